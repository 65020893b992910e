# The local ASL engine (crates/local/src/engine) and its contract tests.
# The differential test compares the local engine with moto's Step Functions
# interpreter; `cargo test` skips it when the venv has no moto_server, this
# target installs the venv first and makes its absence an error.

TEST_TARGETS += test-engine-differential

.PHONY: test-engine test-engine-differential
test-engine:
	$(CARGO) test -p ccx-local engine::
	$(CARGO) test -p ccx-tests --test asl_contract --test workflow_engine --test workflow_binaries

test-engine-differential: $(VENV)/.installed
	CCX_REQUIRE_MOTO=1 $(CARGO) test -p ccx-tests --test workflow_moto
