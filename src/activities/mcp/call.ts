import { Context } from '@temporalio/activity';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, type Progress } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { ToolProgress } from '../../contracts/envelope';
import { ToolFailure } from '../../contracts/errors';
import type { ToolContext, ToolHandler, ToolSpec } from '../../contracts/tool-spec';
import type { McpToolInfo } from './catalog';
import { McpUnreachableError, type McpConnection } from './connection';
import { outputOf, type McpCallResult } from './result';
import { describeError, oneLine } from './text';

/** The server could not be reached, or the connection broke during the call: retryable, another attempt may find it back. */
export const MCP_UNAVAILABLE = 'MCP_UNAVAILABLE';
/** The server did not answer within the attempt's time. */
export const MCP_TIMEOUT = 'MCP_TIMEOUT';
/** The server answered the request with a JSON-RPC error (it refused the call itself, not as a tool result). */
export const MCP_PROTOCOL_ERROR = 'MCP_PROTOCOL_ERROR';

/** The `_meta` keys under which each `tools/call` carries the call's identity, so a server can deduplicate a retried attempt. */
export const META_IDEMPOTENCY_KEY = 'holdline/idempotency_key';
export const META_TRACE_ID = 'holdline/trace_id';

/** How long an attempt waits for a server that is reconnecting before it fails (retryably). */
const MAX_CONNECT_WAIT_MS = 5_000;
const MAX_PROGRESS_MESSAGE_CHARS = 200;

/**
 * The handler of one MCP tool: one `tools/call` on the server's current
 * connection. Progress notifications become progress; the call's
 * cancellation (barge-in, an explicit cancel, the attempt's timeout) aborts
 * the request, which sends the server `notifications/cancelled`. While the
 * request runs, the activity heartbeats, so that a cancellation reaches it.
 */
export function mcpToolHandler(connection: McpConnection, info: McpToolInfo, logger: Logger): ToolHandler<ToolSpec> {
  const { spec } = info;
  const connectWaitMs = Math.min(MAX_CONNECT_WAIT_MS, Math.floor(spec.budget.attemptTimeoutMs / 2));
  const keepAliveMs = keepAliveOf(spec);
  return async (args, ctx) => {
    let client: Client;
    try {
      client = await connection.whenUp(ctx.signal, connectWaitMs);
    } catch (error) {
      if (error instanceof McpUnreachableError) throw new ToolFailure(MCP_UNAVAILABLE, error.reason, { retryable: true });
      throw error;
    }
    const progress = progressReporter(ctx);
    // Captured now: the timer's callbacks run outside the activity's async context.
    const activity = Context.current();
    const keepAlive = keepAliveMs === undefined ? undefined : setInterval(() => activity.heartbeat(progress.last()), keepAliveMs);
    try {
      const result = await client.callTool(
        {
          name: info.upstream,
          arguments: args,
          _meta: { [META_IDEMPOTENCY_KEY]: ctx.idempotencyKey, [META_TRACE_ID]: ctx.traceId },
        },
        undefined,
        { signal: ctx.signal, timeout: spec.budget.attemptTimeoutMs, onprogress: progress.report },
      );
      return outputOf(result as McpCallResult, {
        server: info.server,
        tool: info.name,
        ...(info.confidenceField !== undefined ? { confidenceField: info.confidenceField } : {}),
        onBadConfidence: (value) => logger.warn({ tool: info.name, field: info.confidenceField, value: oneLine(String(value), 50) }, 'MCP tool gave a confidence outside 0..1; ignored'),
      });
    } catch (error) {
      // The adapter turns an aborted call into a cancellation.
      if (ctx.signal.aborted || error instanceof ToolFailure) throw error;
      throw failureOf(error, info, () => connection.lost(client, describeError(error)));
    } finally {
      clearInterval(keepAlive);
    }
  };
}

/** A failed request as the caller is told of it; a broken connection is also dropped (`lost`), so the next attempt reconnects. */
function failureOf(error: unknown, info: McpToolInfo, lost: () => void): ToolFailure {
  const server = `MCP server ${info.server}`;
  if (error instanceof McpError) {
    if (error.code === (ErrorCode.ConnectionClosed as number)) {
      return new ToolFailure(MCP_UNAVAILABLE, `${server} closed the connection during the call`, { retryable: true, cause: error });
    }
    if (error.code === (ErrorCode.RequestTimeout as number)) {
      return new ToolFailure(MCP_TIMEOUT, `${server} did not answer within ${info.spec.budget.attemptTimeoutMs} ms`, { retryable: true, cause: error });
    }
    const said = oneLine(error.message.replace(/^MCP error -?\d+:\s*/, ''), 300);
    return new ToolFailure(MCP_PROTOCOL_ERROR, `${server} refused the call: ${said}`, { retryable: error.code === (ErrorCode.InternalError as number), cause: error });
  }
  // Anything else is the transport's: the request could not be sent or its answer not read.
  lost();
  return new ToolFailure(MCP_UNAVAILABLE, `${server} is unreachable: ${describeError(error)}`, { retryable: true, cause: error });
}

/** Turns MCP progress notifications into Holdline progress; keeps the last, which keep-alive heartbeats repeat. */
function progressReporter(ctx: ToolContext): { report: (progress: Progress) => void; last: () => ToolProgress | undefined } {
  let last: ToolProgress | undefined;
  return {
    report: (progress) => {
      const { total } = progress;
      const pct = total !== undefined && total > 0 ? clamp(Math.round((progress.progress / total) * 100), 0, 100) : (last?.pct ?? 0);
      const told = progress.message === undefined ? '' : oneLine(progress.message, MAX_PROGRESS_MESSAGE_CHARS);
      const message = told || (total !== undefined ? `${progress.progress} of ${total}` : `${progress.progress}`);
      last = { stage: 'running', pct, message };
      ctx.progress(last);
    },
    last: () => last,
  };
}

/**
 * How often a running call heartbeats: a cancellable call often, since its
 * cancellation arrives only with a heartbeat's answer (a barge-in should stop
 * it within a fraction of a second); any other often enough to stay alive.
 */
function keepAliveOf(spec: ToolSpec): number | undefined {
  const { heartbeatTimeoutMs } = spec.budget;
  if (heartbeatTimeoutMs === undefined || spec.runAs === 'local-activity') return undefined;
  return spec.cancellable ? Math.min(200, Math.floor(heartbeatTimeoutMs / 3)) : Math.min(1_000, Math.floor(heartbeatTimeoutMs / 3));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
