# Entry points. Each concern adds its targets in mk/<concern>.mk; this file keeps
# the two commands a newcomer needs: `make demo` and `make test`.

SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
CARGO ?= cargo

# Targets that `make test` runs after the unit/workspace tests; fragments append.
TEST_TARGETS :=

-include mk/*.mk

.PHONY: help check fmt-check clippy test-unit test
help:
	@echo "make demo    run the whole flow on the embedded default (no AWS)"
	@echo "make test    fmt, clippy and every test suite"

check:
	$(CARGO) check --workspace --all-targets

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-unit:
	$(CARGO) test --workspace

test: fmt-check clippy test-unit $(TEST_TARGETS)
