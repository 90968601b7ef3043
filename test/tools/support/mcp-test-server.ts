import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** What a test MCP server saw, in order; the tests count calls and cancellations with it. */
export interface McpTestEvent {
  event: 'start' | 'call' | 'cancelled';
  pid: number;
  tool?: string;
  args?: unknown;
  meta?: Record<string, unknown>;
}

/**
 * The tools of the test MCP servers, written with the SDK's server API as a
 * user's server would be. `record` sees every call before it runs; `crash`
 * ends the process (stdio servers only).
 */
export function buildTestMcpServer(record: (event: McpTestEvent) => void, options: { crash?: () => void } = {}): McpServer {
  const server = new McpServer({ name: 'holdline-test', version: '1.0.0' });
  const seen = (tool: string, args: unknown, meta: unknown) => record({ event: 'call', pid: process.pid, tool, args, meta: meta as Record<string, unknown> });

  server.registerTool(
    'echo',
    { description: 'Says the text back.', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true, idempotentHint: true } },
    async (args, extra) => {
      seen('echo', args, extra._meta);
      return { content: [{ type: 'text', text: `echo: ${args.text}` }] };
    },
  );

  server.registerTool(
    'lookup_customer',
    {
      description: 'Finds a customer by id.',
      inputSchema: { id: z.string(), verbose: z.boolean().optional() },
      outputSchema: { id: z.string(), name: z.string(), confidence: z.number() },
      annotations: { readOnlyHint: true },
    },
    async (args, extra) => {
      seen('lookup_customer', args, extra._meta);
      const found = { id: args.id, name: `Customer ${args.id}`, confidence: 0.87 };
      return { content: [{ type: 'text', text: JSON.stringify(found) }], structuredContent: found };
    },
  );

  server.registerTool(
    'slow_count',
    {
      description: 'Counts to `steps`, one step every `step_ms`, reporting progress; stops when cancelled.',
      inputSchema: { steps: z.number().int().positive(), step_ms: z.number().int().positive() },
      annotations: { readOnlyHint: true },
    },
    async (args, extra) => {
      seen('slow_count', args, extra._meta);
      const token = extra._meta?.progressToken;
      for (let step = 1; step <= args.steps; step++) {
        const stopped = await new Promise<boolean>((resolve) => {
          if (extra.signal.aborted) return resolve(true);
          const timer = setTimeout(() => resolve(false), args.step_ms);
          extra.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(true)), { once: true });
        });
        if (stopped) {
          record({ event: 'cancelled', pid: process.pid, tool: 'slow_count' });
          throw new Error('cancelled');
        }
        if (token !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: step, total: args.steps, message: `Counted ${step}` } });
        }
      }
      return { content: [{ type: 'text', text: `counted to ${args.steps}` }] };
    },
  );

  server.registerTool(
    'locked_record',
    { description: 'Always refuses: the record is locked.', inputSchema: {}, annotations: { readOnlyHint: true } },
    async (args, extra) => {
      seen('locked_record', args, extra._meta);
      return { isError: true, content: [{ type: 'text', text: 'Customer record is locked\u0007 by another agent;\n\ttry again later' }] };
    },
  );

  server.registerTool(
    'delete_customer',
    { description: 'Deletes a customer.', inputSchema: { id: z.string() }, annotations: { readOnlyHint: false, destructiveHint: true } },
    async (args, extra) => {
      seen('delete_customer', args, extra._meta);
      return { content: [{ type: 'text', text: `deleted ${args.id}` }] };
    },
  );

  server.registerTool(
    'get-time',
    { description: 'Tells the time (a write tool by default: no annotations).', inputSchema: {} },
    async (args, extra) => {
      seen('get-time', args, extra._meta);
      return { content: [{ type: 'text', text: new Date(0).toISOString() }] };
    },
  );

  server.registerTool('whoami', { description: 'Tells which server process answers.', inputSchema: {}, annotations: { readOnlyHint: true } }, async (args, extra) => {
    seen('whoami', args, extra._meta);
    return { content: [{ type: 'text', text: String(process.pid) }], structuredContent: { pid: process.pid } };
  });

  server.registerTool('secret_tool', { description: 'Never allow-listed.', inputSchema: {} }, async (args, extra) => {
    seen('secret_tool', args, extra._meta);
    return { content: [{ type: 'text', text: 'secret' }] };
  });

  let extra = false;
  server.registerTool(
    'enable_extra',
    { description: 'Adds the tool `extra`; the server then tells its client that its tools changed.', inputSchema: {}, annotations: { readOnlyHint: true } },
    async (args, callExtra) => {
      seen('enable_extra', args, callExtra._meta);
      if (!extra) {
        extra = true;
        server.registerTool('extra', { description: 'Exists once enabled.', inputSchema: { n: z.number() }, annotations: { readOnlyHint: true } }, async (extraArgs, more) => {
          seen('extra', extraArgs, more._meta);
          return { content: [{ type: 'text', text: `extra ${extraArgs.n}` }] };
        });
      }
      return { content: [{ type: 'text', text: 'enabled' }] };
    },
  );

  if (options.crash) {
    const crash = options.crash;
    server.registerTool('crash', { description: 'Ends the server process mid-call.', inputSchema: {}, annotations: { readOnlyHint: true } }, async (args, extra) => {
      seen('crash', args, extra._meta);
      crash();
      return { content: [] };
    });
  }
  return server;
}

/** The events a stdio test server wrote to its events file so far. */
export function readEventsFile(path: string): McpTestEvent[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as McpTestEvent);
}
