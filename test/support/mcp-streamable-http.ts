import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

export interface McpHttpEndpoint {
  /** The node:http request listener that serves MCP over Streamable HTTP. */
  listener: RequestListener;
  /** Closes every session's transport (the HTTP server is the caller's). */
  closeSessions(): Promise<void>;
}

/**
 * MCP over Streamable HTTP, stateful as the SDK's own example server is: an
 * initialize request opens a session with a server of its own (`build()`),
 * later requests name it in `mcp-session-id`; anything else answers 404.
 * Progress and cancellation flow as with a real server.
 */
export function mcpHttpEndpoint(build: () => McpServer, onRequest?: (req: IncomingMessage) => void): McpHttpEndpoint {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const listener: RequestListener = (req, res) => {
    onRequest?.(req);
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
        await build().connect(created);
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
  };
  return {
    listener,
    closeSessions: async () => {
      await Promise.all([...sessions.values()].map((transport) => transport.close().catch(() => {})));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : undefined;
}
