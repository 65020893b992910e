# The embedded default: the whole flow on one machine, no AWS.
.PHONY: demo ccx
demo:
	$(CARGO) run --quiet -p ccx-local --bin ccx -- demo

ccx:
	$(CARGO) build -p ccx-local --bin ccx
