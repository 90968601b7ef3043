import { ToolFailure } from '../../contracts/errors';
import { withConfidence, type ToolContext } from '../../contracts/tool-spec';
import { beginAttempt, type Attempt } from './attempt';
import { discardBody } from './body';
import { cancelRequestOf, sendCancel } from './cancel';
import type { HttpToolConfig } from './config';
import { failureOf, jsonBodyOf, send, type Transport } from './exchange';
import { followJob, statusUrlOf } from './job';
import { callHeadersOf, urlWithQuery } from './wire';

/** An HTTP tool ready to be called: its configuration with the secrets read. */
export interface HttpEndpoint {
  readonly config: HttpToolConfig;
  /** The tool's own headers, secrets resolved. */
  readonly headers: Readonly<Record<string, string>>;
  readonly transport: Transport;
  /** The attempt time the tool's budget gives, when Temporal does not say. */
  readonly attemptTimeoutMs: number;
}

/**
 * One attempt of an HTTP tool: the request, a job followed to its end when
 * the endpoint starts one, and the cancel request when the caller stops a
 * cancellable call. Throws a `ToolFailure` the workflow retries or not (see
 * `failureOf`), or the abort of a cancelled call as it is.
 */
export async function callEndpoint(endpoint: HttpEndpoint, args: Record<string, unknown>, ctx: ToolContext): Promise<unknown> {
  const attempt = beginAttempt(ctx, endpoint.attemptTimeoutMs);
  const headers = { ...endpoint.headers, ...callHeadersOf(ctx) };
  const job: { statusUrl?: string } = {};
  try {
    return confidentResult(await requestResult(endpoint, args, headers, attempt, job), endpoint.config.confidenceField);
  } catch (error) {
    if (endpoint.config.cancellable && ctx.signal.aborted && attempt.cancelRequested()) {
      const request = cancelRequestOf(endpoint.config.cancel, {
        ...(job.statusUrl !== undefined ? { status_url: job.statusUrl } : {}),
        idempotency_key: ctx.idempotencyKey,
        call_id: ctx.callId,
        trace_id: ctx.traceId,
      });
      if (request) attempt.log('sent the endpoint a cancel request', { tool: endpoint.config.name, outcome: await sendCancel(endpoint.transport, request, headers) });
    }
    throw error;
  } finally {
    attempt.end();
  }
}

async function requestResult(
  endpoint: HttpEndpoint,
  args: Record<string, unknown>,
  headers: Record<string, string>,
  attempt: Attempt,
  job: { statusUrl?: string },
): Promise<unknown> {
  const { method, url } = endpoint.config;
  const inQuery = method === 'GET' || method === 'DELETE';
  const target = inQuery ? urlWithQuery(url, args) : url;
  const response = await send(endpoint.transport, { method, url: target, headers, ...(inQuery ? {} : { body: args }) }, attempt);
  if (response.status < 200 || response.status >= 300) throw await failureOf(response, attempt);
  if (response.status !== 202) return jsonBodyOf(response, endpoint.transport, attempt);

  const location = response.headers.get('location');
  const body = location === null ? await jsonBodyOf(response, endpoint.transport, attempt) : await discardBody(response);
  const statusUrl = statusUrlOf(location, body, target);
  if (statusUrl === undefined) return body;
  job.statusUrl = statusUrl;
  return followJob(statusUrl, { transport: endpoint.transport, headers, pollIntervalMs: endpoint.config.job.pollIntervalMs }, attempt);
}

/** The result with its `confidenceField` taken out and reported as the envelope's confidence. */
export function confidentResult(result: unknown, field: string | undefined): unknown {
  if (field === undefined || typeof result !== 'object' || result === null || Array.isArray(result) || !Object.hasOwn(result, field)) return result;
  const { [field]: confidence, ...rest } = result as Record<string, unknown>;
  if (typeof confidence !== 'number' || !(confidence >= 0 && confidence <= 1)) {
    throw new ToolFailure('HTTP_INVALID_CONFIDENCE', `The endpoint's ${field} must be a number between 0 and 1`);
  }
  return withConfidence(rest, confidence);
}
