# The exactly-once soak (`ccx chaos`): thousands of ACTION_APPROVED events through
# the embedded engine and the in-process dev gateway (loopback only) with gateway
# faults, duplicate events and crashes at every step boundary, then the checks as
# a table. Exits non-zero when a check fails. See README "Guarantees".
CHAOS_INTENTS ?= 3000
CHAOS_SEED ?= 7
CHAOS_MAX_SECONDS ?= 240
CHAOS_DATA := $(ROOT)/target/chaos
# Handler warnings (every injected fault logs one) go nowhere; the table is the output.
CHAOS_ENV := RUST_LOG=error

.PHONY: chaos chaos-smoke

## chaos: the full soak; numbers in bench/chaos.json
chaos:
	$(CHAOS_ENV) $(CARGO) run --quiet -p ccx-local --bin ccx -- --data-dir $(CHAOS_DATA) \
		chaos --intents $(CHAOS_INTENTS) --seed $(CHAOS_SEED) --max-seconds $(CHAOS_MAX_SECONDS) \
		--out bench/chaos.json

## chaos-smoke: a small soak with another seed, part of `make test`
chaos-smoke:
	$(CHAOS_ENV) $(CARGO) run --quiet -p ccx-local --bin ccx -- --data-dir $(CHAOS_DATA) \
		chaos --intents 400 --seed 11 --max-seconds 120

TEST_TARGETS += chaos-smoke

# The same soak over the AWS adapters (DynamoDB, S3, EventBridge) on moto, with a
# smaller count: crates/aws/tests/chaos.rs. `make test-aws` already runs that test
# with 40 intents, so this target is not in TEST_TARGETS.
CHAOS_AWS_INTENTS ?= 300

.PHONY: chaos-aws
## chaos-aws: the soak over DynamoDB/S3/EventBridge on moto; numbers in bench/chaos-aws.json
chaos-aws: $(VENV)/.installed
	CCX_CHAOS_INTENTS=$(CHAOS_AWS_INTENTS) CCX_CHAOS_OUT=$(ROOT)/bench/chaos-aws.json $(CHAOS_ENV) \
		tests/aws/with_endpoint.sh $(VENV) $(CARGO) test -q -p ccx-aws --test chaos -- --nocapture
