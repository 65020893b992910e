# Interop (issue 4): the MCP client of crates/mcp against servers written with the
# official SDKs, Python `mcp` (PyPI, in the venv) and `@modelcontextprotocol/sdk`
# (npm, pinned in tests/interop/node), in stateful-SSE, stateless-JSON and
# 2026-07-28 modes. The scenarios are in crates/mcp/tests/interop.rs (ignored in a
# plain `cargo test` because they need these servers installed).

INTEROP_NODE_DIR := $(ROOT)/tests/interop/node

$(INTEROP_NODE_DIR)/node_modules/.installed: $(INTEROP_NODE_DIR)/package.json $(INTEROP_NODE_DIR)/package-lock.json
	cd $(INTEROP_NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

.PHONY: test-interop
## test-interop: the MCP client against the Python and TypeScript SDK servers
test-interop: $(VENV)/.installed $(INTEROP_NODE_DIR)/node_modules/.installed
	CCX_INTEROP_PYTHON=$(PY) CCX_INTEROP_NODE="$$(command -v node)" \
		$(CARGO) test -p ccx-mcp --test interop -- --ignored

TEST_TARGETS += test-interop
