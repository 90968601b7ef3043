import type { ToolActivity } from './tool-call';
import type { ToolSpec } from './tool-spec';

/**
 * Tools served by something outside the worker's code: HTTP endpoints or an
 * MCP server, declared in the tools file. The gateway serves `specs()` like
 * any other tool (validation, scopes, budgets, approval); the worker registers
 * `activities`, fixed when it starts, which perform the calls.
 */
export interface ToolSource {
  /** For logs: `http`, `mcp:crm`. */
  readonly name: string;
  /** The tools it serves now. May change while the process runs (an MCP server that comes back). */
  specs(): readonly ToolSpec[];
  /**
   * Tools it is configured to serve but cannot now, each with the reason a
   * caller is told (an MCP server that is down).
   */
  unavailable(): ReadonlyMap<string, string>;
  /** The activities a worker registers, by activity type. */
  readonly activities: Readonly<Record<string, ToolActivity>>;
  /** Stops connections and timers. */
  close(): Promise<void>;
}
