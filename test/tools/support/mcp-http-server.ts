import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { buildTestMcpServer, type McpTestEvent } from './mcp-test-server';

export interface HttpMcpServer {
  /** The MCP endpoint. */
  url: string;
  port: number;
  events: McpTestEvent[];
  /** Headers of every request, in order (to check the configured ones are sent). */
  requestHeaders: IncomingMessage['headers'][];
  close(): Promise<void>;
}

/**
 * A Streamable HTTP MCP server in this process, on 127.0.0.1: one session per
 * client (stateful, so progress and cancellation flow as with a real server).
 * `port` 0 picks a free one.
 */
export async function startHttpMcpServer(port = 0): Promise<HttpMcpServer> {
  const events: McpTestEvent[] = [];
  const requestHeaders: IncomingMessage['headers'][] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const http: Server = createServer((req, res) => {
    requestHeaders.push(req.headers);
    void (async () => {
      const body = req.method === 'POST' ? await readJson(req) : undefined;
      const id = req.headers['mcp-session-id'];
      let transport = typeof id === 'string' ? sessions.get(id) : undefined;
      if (!transport && req.method === 'POST' && isInitializeRequest(body)) {
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (session) => void sessions.set(session, created),
        });
        created.onclose = () => {
          if (created.sessionId) sessions.delete(created.sessionId);
        };
        await buildTestMcpServer((event) => events.push(event)).connect(created);
        transport = created;
      }
      if (!transport) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
        return;
      }
      await transport.handleRequest(req, res, body);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  const bound = (http.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${bound}/mcp`,
    port: bound,
    events,
    requestHeaders,
    close: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close().catch(() => {})));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}
