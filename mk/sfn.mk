# The whole state machine on moto's Step Functions interpreter (LocalStack's
# engine) with its Lambda tasks served by the compiled handler binaries, against
# the same scenarios in the local engine: tests/tests/sfn_moto_differential.rs.
# The test starts moto (tests/aws/moto_server.py, MOTO_PORT = the Lambda router)
# and the router (tests/src/lambda_router.rs) on free 127.0.0.1 ports and stops
# them; tests/sfn/in_process_group.sh kills whatever is left if the test dies.

SFN_HANDLERS := starter validator tool-mapper tool-invoker compensation recorder failure-recorder

TEST_TARGETS += test-sfn

.PHONY: test-sfn
## test-sfn: every workflow scenario on moto's Step Functions and in the local engine, compared
test-sfn: $(VENV)/.installed
	$(CARGO) build $(addprefix -p ,$(SFN_HANDLERS))
	CCX_REQUIRE_MOTO=1 CCX_SFN_PYTHON=$(PY) tests/sfn/in_process_group.sh \
		$(CARGO) test -p ccx-tests --test sfn_moto_differential -- --ignored
