// The stdio MCP server of the tests, run as a child process (node --import tsx).
// MCP_TEST_EVENTS names a file that receives one JSON line per event.
import { appendFileSync } from 'node:fs';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildTestMcpServer, type McpTestEvent } from './mcp-test-server';

const eventsFile = process.env.MCP_TEST_EVENTS;
const record = (event: McpTestEvent) => {
  if (eventsFile) appendFileSync(eventsFile, `${JSON.stringify(event)}\n`);
};

async function main(): Promise<void> {
  const server = buildTestMcpServer(record, {
    crash: () => {
      process.stderr.write('crashing on purpose\n');
      process.exit(3);
    },
  });
  await server.connect(new StdioServerTransport());
  record({ event: 'start', pid: process.pid });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
