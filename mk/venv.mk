# One Python venv for every Python tool the tests need (moto, cfn-lint, mcp, cargo-lambda).
PY_REQUIREMENTS := $(ROOT)/requirements-dev.txt

$(VENV)/.installed: $(PY_REQUIREMENTS)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r $(PY_REQUIREMENTS)
	touch $@

.PHONY: venv
venv: $(VENV)/.installed
