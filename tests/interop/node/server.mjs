// Interop MCP server written with the official TypeScript SDK
// (@modelcontextprotocol/sdk), the counterpart of ../python/server.py.
// Started by crates/mcp/tests/interop.rs: prints {"port": N} on stdout once
// listening on 127.0.0.1.
//
//   node server.mjs --token T [--stateless]
//
// Same tools as the Python server: create_task, fail_task, jsonrpc_error,
// slow (30 s), malformed (answered here with a body that is not JSON).
// Requests without `Authorization: Bearer T` get 401.

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  isInitializeRequest,
} from '@modelcontextprotocol/sdk/types.js';

const args = process.argv.slice(2);
const token = args[args.indexOf('--token') + 1];
const stateless = args.includes('--stateless');

// The low-level `Server` rather than `McpServer`: McpServer turns every error
// thrown by a tool (unknown tool included) into an `isError` result, while the
// interop suite also needs the SDK's genuine JSON-RPC error path.
const TOOLS = [
  {
    name: 'create_task',
    description: 'Create a task (echoes a gateway-shaped success payload)',
    inputSchema: {
      type: 'object',
      properties: {
        tenant_id: { type: 'string' },
        account_id: { type: 'string' },
        idempotency_key: { type: 'string' },
        title: { type: 'string' },
      },
      required: ['tenant_id', 'account_id', 'idempotency_key', 'title'],
    },
  },
  {
    name: 'fail_task',
    description: 'Always fails as a tool (isError)',
    inputSchema: { type: 'object', properties: { reason: { type: 'string' } }, required: ['reason'] },
  },
  { name: 'jsonrpc_error', description: 'Always fails at the protocol level', inputSchema: { type: 'object' } },
  { name: 'slow', description: 'Answers only after 30 s', inputSchema: { type: 'object' } },
  { name: 'malformed', description: 'Never reached: answered by the HTTP layer', inputSchema: { type: 'object' } },
];

function buildServer() {
  const server = new Server({ name: 'ccx-interop-node', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const { name, arguments: args = {} } = request.params;
    switch (name) {
      case 'create_task': {
        for (const key of TOOLS[0].inputSchema.required) {
          if (typeof args[key] !== 'string') throw new McpError(ErrorCode.InvalidParams, `create_task: ${key} is required`);
        }
        const payload = {
          success: true,
          external_object_refs: [{ system: 'interop', object_type: 'task', object_id: `node-${args.idempotency_key}` }],
          title: args.title,
          tenant_id: args.tenant_id,
          account_id: args.account_id,
        };
        return { content: [{ type: 'text', text: JSON.stringify(payload) }], structuredContent: payload };
      }
      case 'fail_task':
        return { isError: true, content: [{ type: 'text', text: `task refused: ${args.reason}` }] };
      case 'jsonrpc_error':
        throw new McpError(-32001, 'interop: refused at protocol level');
      case 'slow':
        await new Promise((resolve) => setTimeout(resolve, 30_000));
        return { content: [{ type: 'text', text: 'late' }] };
      case 'malformed':
        return { content: [{ type: 'text', text: 'unreachable' }] };
      default:
        throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
    }
  });
  return server;
}

const sessions = new Map();

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function reply(res, status, contentType, body, headers = {}) {
  res.writeHead(status, { 'content-type': contentType, ...headers });
  res.end(body);
}

const http = createServer(async (req, res) => {
  try {
    if (req.headers.authorization !== `Bearer ${token}`) {
      return reply(res, 401, 'application/json', '{"error":"invalid_token"}', {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    if (body?.method === 'tools/call' && body?.params?.name === 'malformed') {
      return reply(res, 200, 'application/json', '{"jsonrpc": "2.0", "id": ');
    }
    if (stateless) {
      const server = buildServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        transport.close();
        server.close();
      });
      await server.connect(transport);
      return await transport.handleRequest(req, res, body);
    }
    const sessionId = req.headers['mcp-session-id'];
    let transport = sessionId ? sessions.get(sessionId) : undefined;
    if (!transport) {
      if (sessionId || !isInitializeRequest(body)) {
        return reply(res, 404, 'application/json', JSON.stringify({
          jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' },
        }));
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => sessions.set(id, transport),
      });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await buildServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  } catch (error) {
    if (!res.headersSent) reply(res, 500, 'text/plain', String(error));
  }
});

http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: http.address().port })}\n`);
});
