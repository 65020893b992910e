"""Interop MCP server written with the official Python SDK (`mcp` on PyPI).

The Rust client (crates/mcp, test `interop`) runs against it to prove it speaks
the protocol as the reference implementation does, not only as our own dev
gateway does. Started by the test: prints `{"port": N}` on stdout once
listening on 127.0.0.1.

  python server.py --token T [--stateless]

Tools:
  create_task    structured success payload like the gateway's
  fail_task      raises ToolError -> isError: true
  jsonrpc_error  raises MCPError -> JSON-RPC error -32001
  slow           sleeps 30 s (the client times out first)
  malformed      answered by the middleware with a body that is not JSON
Requests without `Authorization: Bearer T` get 401.
"""

import argparse
import asyncio
import json
import logging
import socket
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError

server = MCPServer(name="ccx-interop-python", version="1.0.0")


@server.tool(name="create_task", structured_output=True)
def create_task(tenant_id: str, account_id: str, idempotency_key: str, title: str) -> dict[str, Any]:
    """Create a task (echoes a gateway-shaped success payload)."""
    return {
        "success": True,
        "external_object_refs": [
            {"system": "interop", "object_type": "task", "object_id": f"py-{idempotency_key}"}
        ],
        "title": title,
        "tenant_id": tenant_id,
        "account_id": account_id,
    }


@server.tool(name="fail_task")
def fail_task(reason: str) -> str:
    """Always fails as a tool (isError)."""
    raise ToolError(f"task refused: {reason}")


@server.tool(name="jsonrpc_error")
def jsonrpc_error() -> str:
    """Always fails at the protocol level."""
    raise MCPError(code=-32001, message="interop: refused at protocol level")


@server.tool(name="slow")
async def slow() -> str:
    """Answers only after 30 s."""
    await asyncio.sleep(30)
    return "late"


@server.tool(name="malformed")
def malformed() -> str:
    """Never reached: the middleware answers first."""
    return "unreachable"


class Interop:
    """Bearer check and the malformed-body fault, in front of the SDK's app."""

    def __init__(self, app, token):
        self.app = app
        self.token = token

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if headers.get(b"authorization", b"").decode() != f"Bearer {self.token}":
            return await self.reply(send, 401, b"application/json", b'{"error":"invalid_token"}',
                                    [(b"www-authenticate", b'Bearer error="invalid_token"')])
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("method") == "tools/call" \
                and (parsed.get("params") or {}).get("name") == "malformed":
            return await self.reply(send, 200, b"application/json", b'{"jsonrpc": "2.0", "id": ')

        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    @staticmethod
    async def reply(send, status, content_type, body, extra=()):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type), *extra]})
        await send({"type": "http.response.body", "body": body})


def main():
    # Expected tool failures are logged by the SDK at INFO; keep test output readable.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser()
    parser.add_argument("--token", required=True)
    parser.add_argument("--stateless", action="store_true", help="stateless server answering application/json")
    args = parser.parse_args()

    app = server.streamable_http_app(stateless_http=args.stateless, json_response=args.stateless)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    config = uvicorn.Config(Interop(app, args.token), log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
