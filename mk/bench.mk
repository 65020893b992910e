# Benchmarks (issue 8): cold start of the seven Lambda binaries, cost per
# execution, embedded-engine throughput and tool-call overhead. See BENCHMARKS.md.
# `make bench` is deliberately not part of `make test`. The harness's smoke tests
# (crates/bench/tests) run in `make test` through `cargo test --workspace`;
# `make bench-smoke` runs just them.

BENCH_PROFILE := bench-release
# Its own target folder (like `make build`), so the long release build does not
# hold the lock of target/ that every other cargo command of the workspace waits on.
BENCH_TARGET_DIR := $(ROOT)/target/bench-build
BENCH_BIN_DIR := $(BENCH_TARGET_DIR)/$(BENCH_PROFILE)
BENCH_PACKAGES := starter validator tool-mapper tool-invoker compensation recorder failure-recorder ccx-bench

.PHONY: bench bench-smoke
## bench: build with the bench-release profile, run everything, write
## bench/results.json, bench/plot.png and the results block of BENCHMARKS.md
bench:
	CARGO_TARGET_DIR=$(BENCH_TARGET_DIR) $(CARGO) build --profile $(BENCH_PROFILE) $(foreach p,$(BENCH_PACKAGES),-p $(p))
	$(BENCH_BIN_DIR)/ccx-bench --bin-dir $(BENCH_BIN_DIR) --profile $(BENCH_PROFILE) $(BENCH_ARGS)

bench-smoke:
	$(CARGO) test -p ccx-bench
