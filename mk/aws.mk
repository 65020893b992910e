# AWS adapters (crates/aws) against moto server, an AWS-compatible emulator that
# runs here without Docker. The same tests run against LocalStack or AWS by
# pointing AWS_ENDPOINT_URL elsewhere: see crates/aws/README.md.

TEST_TARGETS += test-aws

.PHONY: test-aws
test-aws: $(VENV)/.installed
	tests/aws/with_endpoint.sh $(VENV) $(CARGO) test -p ccx-aws --tests
