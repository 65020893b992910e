# Infrastructure: synthesise the CloudFormation template from crates/infra, lint it,
# check the state machine, build the Lambda zips, deploy. See infra/README.md.

INFRA_TEMPLATE := infra/template.json
ASL_FILE := statemachine/execution.asl.json
ASL_CHECK_DIR := infra/asl-check
LAMBDA_FUNCTIONS := starter validator tool-mapper tool-invoker compensation recorder failure-recorder
LAMBDA_TARGET := aarch64-unknown-linux-gnu
# cargo-lambda (and the zig it links with) keep their caches under the project.
# The release build gets its own target folder, so its long run does not hold the
# lock of target/ that every other cargo command of the workspace waits on.
LAMBDA_BUILD_DIR := $(ROOT)/target/lambda-build
LAMBDA_ENV := PATH="$(VENV)/bin:$$PATH" XDG_CACHE_HOME="$(ROOT)/target/lambda-cache" \
	CARGO_TARGET_DIR="$(LAMBDA_BUILD_DIR)"

# Deploy settings (override on the command line; see infra/README.md).
STACK_NAME ?= cc-native-execution
RESOURCE_PREFIX ?= cc-native
DEPLOY_BUCKET ?=
DEPLOY_PARAMS ?=
AWS ?= aws
LOCALSTACK_ENDPOINT ?= http://localhost:4566
PACKAGED_TEMPLATE := target/infra/packaged.json

.PHONY: synth synth-check cfn-lint asl-lint infra-lint build ci-build package deploy deploy-localstack

## synth: write infra/template.json and infra/event_rule.json from the Rust model
synth:
	$(CARGO) run -q -p ccx-infra --bin synth

## synth-check: fail when the checked-in template is not what the model synthesises
synth-check:
	$(CARGO) run -q -p ccx-infra --bin synth -- --check

## cfn-lint: CloudFormation linter on the template. W3002 ("only works with the
## package command") is the point: Code is a local zip that `package` uploads.
cfn-lint: $(VENV)/.installed
	$(VENV)/bin/cfn-lint --ignore-checks W3002 -- $(INFRA_TEMPLATE)
	@echo "cfn-lint: $(INFRA_TEMPLATE) passed"

$(ASL_CHECK_DIR)/node_modules/.installed: $(ASL_CHECK_DIR)/package.json $(ASL_CHECK_DIR)/package-lock.json
	cd $(ASL_CHECK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

## asl-lint: asl-validator (npm, pinned in infra/asl-check) on the state machine
asl-lint: $(ASL_CHECK_DIR)/node_modules/.installed
	$(ASL_CHECK_DIR)/node_modules/.bin/asl-validator --json-path $(ASL_FILE)

infra-lint: synth-check cfn-lint asl-lint

TEST_TARGETS += infra-lint

## build: arm64 release bootstrap zips of the seven functions (target/lambda/<name>/)
build: $(VENV)/.installed
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)
	$(LAMBDA_ENV) $(CARGO) lambda build --release --arm64 --output-format zip \
		--lambda-dir $(ROOT)/target/lambda $(foreach f,$(LAMBDA_FUNCTIONS),--bin $(f))
	@for f in $(LAMBDA_FUNCTIONS); do \
		test -s target/lambda/$$f/bootstrap.zip || { echo "missing target/lambda/$$f/bootstrap.zip"; exit 1; }; \
		printf '%-18s %8s bytes zipped\n' $$f $$(stat -c %s target/lambda/$$f/bootstrap.zip); \
	done

## ci-build: what CI runs besides `make test` (slow: a full arm64 release build)
ci-build: build infra-lint

target/lambda/%/bootstrap.zip:
	@echo "missing $@: run \`make build\` first"; exit 1

# Uploads each zip to DEPLOY_BUCKET (skipped when the same content is already
# there) and writes the template with Code rewritten to {S3Bucket, S3Key}.
package: $(INFRA_TEMPLATE) $(foreach f,$(LAMBDA_FUNCTIONS),target/lambda/$(f)/bootstrap.zip)
	@test -n "$(DEPLOY_BUCKET)" || { echo "set DEPLOY_BUCKET=<s3 bucket for the code zips>"; exit 2; }
	mkdir -p $(dir $(PACKAGED_TEMPLATE))
	$(AWS) $(AWS_ENDPOINT_ARGS) cloudformation package --template-file $(INFRA_TEMPLATE) \
		--s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK_NAME) --use-json \
		--output-template-file $(PACKAGED_TEMPLATE)

## deploy: package the zips to DEPLOY_BUCKET and deploy the stack, e.g.
##   make build deploy DEPLOY_BUCKET=my-code-bucket DEPLOY_PARAMS="GatewayUrl=https://gw/mcp \
##     GatewayTokenUrl=https://auth/oauth2/token GatewayClientId=abc GatewaySecretArn=arn:aws:secretsmanager:..."
deploy: package
	$(AWS) $(AWS_ENDPOINT_ARGS) cloudformation deploy --template-file $(PACKAGED_TEMPLATE) \
		--stack-name $(STACK_NAME) --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
		--parameter-overrides ResourcePrefix=$(RESOURCE_PREFIX) $(DEPLOY_PARAMS)

## deploy-localstack: the same against LocalStack at LOCALSTACK_ENDPOINT (the code
## bucket is created there when missing)
deploy-localstack: AWS_ENDPOINT_ARGS := --endpoint-url $(LOCALSTACK_ENDPOINT)
deploy-localstack: DEPLOY_BUCKET := $(or $(DEPLOY_BUCKET),ccx-localstack-code)
deploy-localstack:
	$(AWS) $(AWS_ENDPOINT_ARGS) s3api head-bucket --bucket $(DEPLOY_BUCKET) >/dev/null 2>&1 \
		|| $(AWS) $(AWS_ENDPOINT_ARGS) s3 mb s3://$(DEPLOY_BUCKET)
	$(MAKE) --no-print-directory deploy AWS_ENDPOINT_ARGS="$(AWS_ENDPOINT_ARGS)" DEPLOY_BUCKET=$(DEPLOY_BUCKET)
