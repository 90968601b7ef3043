import { ToolFailure } from '../../contracts/errors';
import type { Attempt } from './attempt';
import { discardBody, parseJson, readBounded } from './body';
import type { HttpMethod } from './config';
import { endpointMessageOf, sanitizeMessage } from './message';

/** Error bodies are read this far at most, whatever the tool's limit: only a message is wanted from them. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** One request, as the call's endpoint or a job's status URL receives it. */
export interface Outgoing {
  method: HttpMethod;
  url: string;
  headers: Record<string, string>;
  /** JSON-encoded when present. */
  body?: unknown;
}

export interface Transport {
  fetch: typeof fetch;
  maxResponseBytes: number;
}

/**
 * Sends a request. Redirects are not followed (headers may carry secrets that
 * belong to this endpoint only). A request that never got an answer becomes a
 * retryable `ToolFailure`, unless the call was stopped: then the abort error
 * goes on, for the activity to report the cancellation.
 */
export async function send(transport: Transport, request: Outgoing, attempt: Attempt): Promise<Response> {
  try {
    return await transport.fetch(request.url, {
      method: request.method,
      headers: request.body === undefined ? request.headers : { ...request.headers, 'content-type': 'application/json' },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      redirect: 'manual',
      signal: attempt.signal,
    });
  } catch (error) {
    throw noAnswer(error, attempt);
  }
}

/** The failure of a request that got no (whole) answer. */
export function noAnswer(error: unknown, attempt: Attempt): unknown {
  if (error instanceof ToolFailure) return error;
  if (attempt.signal.aborted) {
    if (attempt.timedOut()) return new ToolFailure('HTTP_TIMEOUT', 'The endpoint did not answer in time', { retryable: true, cause: error });
    return error;
  }
  return new ToolFailure('HTTP_UNREACHABLE', 'The endpoint could not be reached', { retryable: true, cause: error });
}

/** Whether an endpoint's answer says "try again later" rather than "no". */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/**
 * The `ToolFailure` of a response that is not a success: 4xx (but 408 and
 * 429) is final, 5xx, 408 and 429 are retried; the endpoint's message, bounded
 * and sanitized, is what the caller reads. Redirects are final.
 */
export async function failureOf(response: Response, attempt: Attempt): Promise<ToolFailure> {
  const type = `HTTP_${response.status}`;
  if (response.status >= 300 && response.status < 400) {
    await discardBody(response);
    return new ToolFailure(type, `The endpoint redirected (${response.status}); Holdline does not follow redirects`);
  }
  let message: string | undefined;
  try {
    const body = await readBounded(response, MAX_ERROR_BODY_BYTES);
    if (body.kind === 'body') message = endpointMessageOf(body.bytes.toString('utf8'));
  } catch (error) {
    if (attempt.signal.aborted) throw noAnswer(error, attempt);
    // The status says enough when the body cannot be read.
  }
  return new ToolFailure(type, message ?? `The endpoint answered ${response.status}`, { retryable: isRetryableStatus(response.status) });
}

/**
 * A 2xx body as JSON. Not JSON, or longer than the tool's limit: a final
 * failure, since the endpoint answered and asking again would not change it.
 * An empty 204 is `null`.
 */
export async function jsonBodyOf(response: Response, transport: Transport, attempt: Attempt): Promise<unknown> {
  let body;
  try {
    body = await readBounded(response, transport.maxResponseBytes);
  } catch (error) {
    throw noAnswer(error, attempt);
  }
  if (body.kind === 'too-large') {
    throw new ToolFailure('HTTP_RESPONSE_TOO_LARGE', `The endpoint's answer is larger than the ${transport.maxResponseBytes} bytes allowed`);
  }
  if (response.status === 204 && body.bytes.length === 0) return null;
  const parsed = parseJson(body.bytes);
  if (!parsed.ok) {
    const type = sanitizeMessage(response.headers.get('content-type')?.split(';')[0] ?? '', 80) || 'no content type';
    throw new ToolFailure('HTTP_NOT_JSON', `The endpoint answered ${response.status} with a body that is not JSON (${type})`);
  }
  return parsed.value;
}
