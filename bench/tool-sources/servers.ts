import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { mcpHttpEndpoint } from '../../test/support/mcp-streamable-http';

/**
 * The services the tool-source scenario calls, on 127.0.0.1: one HTTP
 * endpoint and one MCP server, each answering an order lookup at once, so
 * what is measured is the path to them, not their work. The same answer
 * comes from every one of them: `{ order_id, state: 'shipped' }`.
 */

export const LOOKUP_PATH = '/orders/lookup';
export const MCP_LOOKUP_TOOL = 'lookup_order';

export interface Lookup {
  order_id: string;
  state: string;
}

const lookup = (orderId: string): Lookup => ({ order_id: orderId, state: 'shipped' });

export interface BenchService {
  url: string;
  close(): Promise<void>;
}

/** POST /orders/lookup with `{ order_id }` → 200 `{ order_id, state }`; anything else 404. */
export async function startBenchEndpoint(): Promise<BenchService> {
  const server = createServer((req, res) => {
    void readBody(req).then((text) => {
      if (req.method !== 'POST' || req.url !== LOOKUP_PATH) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no such route"}');
        return;
      }
      const { order_id: orderId } = JSON.parse(text) as { order_id: string };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(lookup(orderId)));
    });
  });
  return listen(server, '');
}

/** The MCP server: one read-only tool whose answer is structured content (Holdline's `data`). */
export function buildBenchMcpServer(): McpServer {
  const server = new McpServer({ name: 'holdline-bench', version: '1.0.0' });
  server.registerTool(
    MCP_LOOKUP_TOOL,
    {
      description: 'Looks an order up.',
      inputSchema: { order_id: z.string() },
      outputSchema: { order_id: z.string(), state: z.string() },
      annotations: { readOnlyHint: true, idempotentHint: true },
    },
    async (args) => {
      const found = lookup(args.order_id);
      return { content: [{ type: 'text', text: JSON.stringify(found) }], structuredContent: { ...found } };
    },
  );
  return server;
}

/**
 * The MCP server over Streamable HTTP, stateful (one session per client, as
 * the SDK's own example server does), answering over SSE (the SDK's default).
 * Holdline and the bench's direct client each hold a session of their own.
 */
export async function startBenchMcpHttpServer(): Promise<BenchService> {
  const endpoint = mcpHttpEndpoint(buildBenchMcpServer);
  const server = createServer(endpoint.listener);
  const service = await listen(server, '/mcp');
  return {
    url: service.url,
    close: async () => {
      await endpoint.closeSessions();
      await service.close();
    },
  };
}

async function listen(server: Server, path: string): Promise<BenchService> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
