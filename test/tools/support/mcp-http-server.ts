import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mcpHttpEndpoint } from '../../support/mcp-streamable-http';
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
  const endpoint = mcpHttpEndpoint(
    () => buildTestMcpServer((event) => events.push(event)),
    (req) => requestHeaders.push(req.headers),
  );
  const http: Server = createServer(endpoint.listener);
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
      await endpoint.closeSessions();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
