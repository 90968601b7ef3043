// The bench's MCP server over stdio, run as a child process (node --import tsx),
// once by Holdline's MCP source and once by the bench's direct client.
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { buildBenchMcpServer } from './servers';

buildBenchMcpServer()
  .connect(new StdioServerTransport())
  .catch((error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exit(1);
  });
