import { z } from 'zod';
import { budgetConfig, secretValue, toolPolicyConfig } from '../../contracts/tool-config';

/**
 * One MCP server entry of the tools file: how to reach the server (a stdio
 * command, or a Streamable HTTP URL) and which of its tools Holdline serves.
 * Only allow-listed tools are ever exposed; everything a tool's policy leaves
 * out is defaulted from the server name and the tool's MCP annotations (see
 * `toolPolicyOf`).
 */

const SERVER_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
const TOOL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** What the file says about one upstream tool; every field optional. */
export const mcpToolConfig = toolPolicyConfig.partial().extend({
  /** The name the model sees, when the upstream name does not suit (or is not snake_case). */
  as: z.string().regex(TOOL_NAME, 'a tool name is snake_case, starts with a letter, at most 64 characters').optional(),
  /** Replaces the description the server gives. */
  description: z.string().trim().min(1).optional(),
  /** Any field left out keeps its default: ackAfterMs 1000 (at most timeoutMs), timeoutMs 30000, heartbeatTimeoutMs 5000 (at most the attempt timeout). */
  budget: budgetConfig.partial().optional(),
  /** A top-level field of the tool's structured content that holds its confidence (0 to 1), carried as the envelope's `confidence`. */
  confidenceField: z.string().min(1).optional(),
});
export type McpToolConfig = z.infer<typeof mcpToolConfig>;

export const mcpServerConfig = z
  .strictObject({
    /** Names the server in logs, reasons, the default scope `mcp:<name>` and the activity type `mcp:<name>`. */
    name: z.string().regex(SERVER_NAME, 'a server name is lowercase letters, digits, "_" or "-", starting with a letter, at most 40 characters'),
    /** stdio: the program to start; it speaks MCP on its stdin and stdout. */
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    /** Added to a minimal inherited environment (PATH, HOME, …); secrets come from Holdline's environment. */
    env: z.record(z.string(), secretValue).optional(),
    cwd: z.string().min(1).optional(),
    /** Streamable HTTP: the server's MCP endpoint. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    headers: z.record(z.string(), secretValue).optional(),
    /** The allow-list: upstream tool name → how Holdline serves it. A tool not named here is never exposed. */
    tools: z.record(z.string().min(1), mcpToolConfig).refine((tools) => Object.keys(tools).length > 0, 'list at least one tool'),
  })
  .superRefine((server, ctx) => {
    if ((server.command === undefined) === (server.url === undefined)) {
      ctx.addIssue({ code: 'custom', path: [], message: 'give either "command" (a stdio server) or "url" (a Streamable HTTP server), not both' });
    }
    if (server.url !== undefined) {
      for (const field of ['args', 'env', 'cwd'] as const) {
        if (server[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `"${field}" is for stdio servers (with "command"), not for a "url"` });
      }
    }
    if (server.command !== undefined && server.headers !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['headers'], message: '"headers" is for Streamable HTTP servers (with "url"), not for a "command"' });
    }
    const exposed = new Map<string, string>();
    for (const [upstream, tool] of Object.entries(server.tools)) {
      const name = tool.as ?? upstream;
      if (!TOOL_NAME.test(name)) {
        ctx.addIssue({ code: 'custom', path: ['tools', upstream], message: `"${upstream}" is not a snake_case tool name: give it one with "as"` });
      }
      const other = exposed.get(name);
      if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['tools', upstream], message: `"${upstream}" and "${other}" would both be served as "${name}"` });
      exposed.set(name, upstream);
    }
  });
export type McpServerConfig = z.infer<typeof mcpServerConfig>;

/** How Holdline reaches a server, resolved from its entry. */
export type McpTransportConfig =
  | { kind: 'stdio'; command: string; args: string[]; env: Record<string, string>; cwd?: string }
  | { kind: 'http'; url: string; headers: Record<string, string> };
