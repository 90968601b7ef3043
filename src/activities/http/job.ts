import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import type { ToolProgress } from '../../contracts/envelope';
import { ToolFailure } from '../../contracts/errors';
import type { Attempt } from './attempt';
import { failureOf, jsonBodyOf, noAnswer, send, type Transport } from './exchange';
import { sanitizeMessage } from './message';

/** A job's status, as the endpoint reports it at the status URL. */
const JobStatus = z.discriminatedUnion('state', [
  z.object({
    state: z.literal('running'),
    progress: z
      .object({
        percent: z.number().optional(),
        message: z.string().optional(),
        stage: z.string().optional(),
      })
      .optional(),
  }),
  z.object({ state: z.literal('succeeded'), result: z.unknown() }),
  z.object({ state: z.literal('failed'), message: z.string().optional() }),
  z.object({ state: z.enum(['cancelled', 'canceled']) }),
]);
type JobStatus = z.infer<typeof JobStatus>;

export interface JobFollowing {
  transport: Transport;
  headers: Record<string, string>;
  pollIntervalMs: number;
}

/**
 * Follows a long-running job to its end and returns its result. The protocol:
 *
 * 1. The endpoint answers the call's request with `202 Accepted` and a status
 *    URL: the `Location` header, or `status_url` in a JSON body. The URL may
 *    be relative to the request's; it must have the tool URL's origin (the
 *    status requests carry the tool's headers, secrets included).
 * 2. Holdline GETs the status URL every `job.pollIntervalMs` (default 500 ms),
 *    with the headers of the call's request (`Idempotency-Key` and the
 *    `Holdline-*` headers included), until one of:
 *    - `{ "state": "running", "progress": { "percent": 40, "message": "Copying", "stage": "copy" } }`:
 *      still running; `progress` (every field optional) becomes a progress
 *      event (and so spoken progress);
 *    - `{ "state": "succeeded", "result": … }`: `result` is the tool's result
 *      (checked against the output schema; `confidenceField` applies to it);
 *    - `{ "state": "failed", "message": "…" }`: the call ends TOOL_FAILED with
 *      that message (bounded and sanitized), not retried;
 *    - `{ "state": "cancelled" }`: the call ends TOOL_FAILED, not retried.
 *    A status answer that is not 2xx is treated as the call's request's would
 *    be (4xx final; 5xx, 408, 429 retried).
 * 3. The whole job runs within one attempt's time (`budget.attemptTimeoutMs`).
 *    A retried attempt sends the call's request again with the same
 *    `Idempotency-Key`: the endpoint answers with the same job, not a new one.
 * 4. When a cancellable call is cancelled, Holdline sends the tool's `cancel`
 *    request, by default `DELETE <status URL>`, once, best effort. Not when
 *    an attempt times out or its worker stops: the next attempt finds the
 *    same job under the same key.
 */
export async function followJob(statusUrl: string, job: JobFollowing, attempt: Attempt): Promise<unknown> {
  let last: ToolProgress | undefined;
  for (;;) {
    const status = await pollOnce(statusUrl, job, attempt);
    switch (status.state) {
      case 'succeeded':
        return status.result ?? null;
      case 'failed':
        throw new ToolFailure('JOB_FAILED', sanitizeMessage(status.message ?? '') || 'The job failed');
      case 'cancelled':
      case 'canceled':
        throw new ToolFailure('JOB_CANCELLED', 'The endpoint cancelled the job');
      case 'running':
        if (status.progress) {
          last = progressOf(status.progress, last);
          attempt.progress(last);
        }
    }
    try {
      await delay(job.pollIntervalMs, undefined, { signal: attempt.signal });
    } catch (error) {
      throw noAnswer(error, attempt);
    }
  }
}

async function pollOnce(statusUrl: string, job: JobFollowing, attempt: Attempt): Promise<JobStatus> {
  const response = await send(job.transport, { method: 'GET', url: statusUrl, headers: job.headers }, attempt);
  if (response.status < 200 || response.status >= 300) throw await failureOf(response, attempt);
  const parsed = JobStatus.safeParse(await jsonBodyOf(response, job.transport, attempt));
  if (!parsed.success) {
    throw new ToolFailure('JOB_STATUS_INVALID', 'The job status is not {"state": "running" | "succeeded" | "failed" | "cancelled"}');
  }
  return parsed.data;
}

/** A job's reported progress as Holdline progress; a field the job leaves out keeps its last value. */
export function progressOf(reported: { percent?: number; message?: string; stage?: string }, last?: ToolProgress): ToolProgress {
  const percent = reported.percent;
  return {
    stage: (reported.stage !== undefined ? sanitizeMessage(reported.stage, 60) : '') || last?.stage || 'running',
    pct: percent !== undefined && Number.isFinite(percent) ? Math.min(100, Math.max(0, Math.round(percent))) : (last?.pct ?? 0),
    message: reported.message !== undefined ? sanitizeMessage(reported.message) : (last?.message ?? ''),
  };
}

/**
 * The status URL of a `202` answer, absolute, or undefined when it names none.
 * A URL outside the tool's origin is refused: the status requests would carry
 * the tool's headers there.
 */
export function statusUrlOf(location: string | null, body: unknown, requestUrl: string): string | undefined {
  const given = location ?? (isObject(body) && typeof body.status_url === 'string' ? body.status_url : undefined);
  if (given === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(given, requestUrl);
  } catch {
    throw new ToolFailure('JOB_STATUS_URL_INVALID', 'The endpoint started a job with a status URL that is not a URL');
  }
  if (url.origin !== new URL(requestUrl).origin) {
    throw new ToolFailure('JOB_STATUS_URL_INVALID', "The endpoint started a job whose status URL is not on the tool's origin");
  }
  return url.toString();
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
