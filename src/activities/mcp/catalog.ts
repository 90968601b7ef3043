import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { declarationFieldsOf, outputOf, strictInputOf } from '../../contracts/tool-config';
import { defineTool, type ToolBudget, type ToolSpec } from '../../contracts/tool-spec';
import type { McpServerConfig, McpToolConfig } from './config';
import { boundedText, oneLine } from './text';

/** One allow-listed tool of an MCP server, as Holdline serves it. */
export interface McpToolInfo {
  /** The name the model sees. */
  readonly name: string;
  /** The name the server knows it by. */
  readonly upstream: string;
  readonly server: string;
  readonly spec: ToolSpec;
  /** What the server said of the tool; hints, which the configuration overrides. */
  readonly annotations: McpAnnotations;
  /** The server's `idempotentHint`: calling again with the same arguments has no further effect. Recorded, not acted on. */
  readonly idempotent?: boolean;
  readonly confidenceField?: string;
}

export interface McpAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/** The allow-listed tools a listing yields, and why the others cannot be served. */
export interface McpCatalog {
  readonly tools: ReadonlyMap<string, McpToolInfo>;
  /** By the name the model would see: why the tool is not served (not offered by the server, a schema Holdline cannot use). */
  readonly problems: ReadonlyMap<string, string>;
}

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_ACK_AFTER_MS = 1_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 5_000;
const MAX_DESCRIPTION_CHARS = 4_000;

/**
 * The policy of one tool: what the configuration says, and otherwise
 * - scopes `mcp:<server>`;
 * - `readOnlyHint: true` → a read tool, anything else a write tool;
 * - a tool not marked read-only is destructive unless it says
 *   `destructiveHint: false` (the MCP specification's default), and a
 *   destructive tool waits for the user's approval; `needsApproval: false` in
 *   the configuration lifts that for a tool its operator trusts;
 * - cancellable when it is a read tool (stopping a read loses nothing) run
 *   as an activity (a local activity cannot be cancelled promptly);
 * - budget: ack after 1 s, 30 s in all, a heartbeat timeout of 5 s, so a
 *   cancellation reaches the running call within a fraction of a second (a
 *   local activity hears of it without heartbeats, and takes none).
 */
export function toolPolicyOf(server: string, config: McpToolConfig, annotations: McpAnnotations) {
  const sideEffect = config.sideEffect ?? (annotations.readOnlyHint === true ? 'read' : 'write');
  const destructive = annotations.readOnlyHint !== true && annotations.destructiveHint !== false;
  const timeoutMs = config.budget?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const attemptTimeoutMs = config.budget?.attemptTimeoutMs ?? timeoutMs;
  const budget: ToolBudget = {
    ackAfterMs: config.budget?.ackAfterMs ?? Math.min(DEFAULT_ACK_AFTER_MS, timeoutMs),
    timeoutMs,
    ...(config.budget?.attemptTimeoutMs !== undefined ? { attemptTimeoutMs } : {}),
    // A local activity cannot heartbeat: it gets no default heartbeat timeout (one set in the file is refused by defineTool).
    ...(config.runAs === 'local-activity' && config.budget?.heartbeatTimeoutMs === undefined
      ? {}
      : { heartbeatTimeoutMs: config.budget?.heartbeatTimeoutMs ?? Math.min(DEFAULT_HEARTBEAT_TIMEOUT_MS, attemptTimeoutMs) }),
  };
  return {
    ...declarationFieldsOf({
      retry: config.retry,
      approvalTimeoutMs: config.approvalTimeoutMs,
      sensitive: config.sensitive,
      version: config.version,
      runAs: config.runAs,
      priority: config.priority,
    }),
    scopes: config.scopes ?? [`mcp:${server}`],
    sideEffect,
    budget,
    cancellable: config.cancellable ?? (sideEffect === 'read' && config.runAs !== 'local-activity'),
    needsApproval: config.needsApproval ?? destructive,
  };
}

/**
 * The tools of a listing that the configuration allows, declared with
 * `defineTool` (input strict, from the tool's JSON Schema). A tool the server
 * does not offer, or whose declaration fails, is left out with its reason.
 */
export function catalogOf(server: McpServerConfig, listed: readonly Tool[], activity: string): McpCatalog {
  const byName = new Map(listed.map((tool) => [tool.name, tool]));
  const tools = new Map<string, McpToolInfo>();
  const problems = new Map<string, string>();
  for (const [upstream, config] of Object.entries(server.tools)) {
    const name = config.as ?? upstream;
    const tool = byName.get(upstream);
    if (!tool) {
      problems.set(name, `MCP server ${server.name} does not offer a tool named "${oneLine(upstream, 100)}"`);
      continue;
    }
    const annotations: McpAnnotations = tool.annotations ?? {};
    try {
      const spec = defineTool(
        {
          name,
          description: descriptionOf(server.name, upstream, config, tool),
          input: strictInputOf(name, tool.inputSchema),
          output: outputOf(name, tool.outputSchema),
          ...toolPolicyOf(server.name, config, annotations),
        },
        { activity },
      );
      tools.set(name, {
        name,
        upstream,
        server: server.name,
        spec,
        annotations: pickAnnotations(annotations),
        ...(annotations.idempotentHint !== undefined ? { idempotent: annotations.idempotentHint } : {}),
        ...(config.confidenceField !== undefined ? { confidenceField: config.confidenceField } : {}),
      });
    } catch (error) {
      problems.set(name, `its declaration from MCP server ${server.name} cannot be used: ${oneLine((error as Error).message, 300)}`);
    }
  }
  return { tools, problems };
}

function descriptionOf(server: string, upstream: string, config: McpToolConfig, tool: Tool): string {
  const given = config.description ?? tool.description ?? tool.title ?? tool.annotations?.title;
  const text = given?.trim() ? given : `Calls "${upstream}" on the MCP server ${server}.`;
  return boundedText(text, MAX_DESCRIPTION_CHARS).text;
}

function pickAnnotations(annotations: McpAnnotations): McpAnnotations {
  const { readOnlyHint, destructiveHint, idempotentHint, openWorldHint } = annotations;
  return Object.fromEntries(Object.entries({ readOnlyHint, destructiveHint, idempotentHint, openWorldHint }).filter(([, v]) => v !== undefined));
}
