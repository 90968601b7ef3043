import type { CancelRequestConfig, CancelTemplateVariable } from './config';
import type { Transport } from './exchange';

/** A cancel request is best effort: it may not hold up the end of a cancelled call longer than this. */
export const CANCEL_TIMEOUT_MS = 2_000;

/** What a cancel request can refer to; `status_url` only once a job runs. */
export type CancelValues = Partial<Record<CancelTemplateVariable, string>>;

/**
 * The cancel request's URL, or undefined when the template names a value the
 * call does not have (`{status_url}` before any job started). Every value
 * but `{status_url}` is percent-encoded.
 */
export function cancelUrlOf(template: string, values: CancelValues): string | undefined {
  let missing = false;
  const url = template.replace(/\{([a-z_]+)\}/g, (_match, name: string) => {
    const value = values[name as CancelTemplateVariable];
    if (value === undefined) {
      missing = true;
      return '';
    }
    return name === 'status_url' ? value : encodeURIComponent(value);
  });
  return missing ? undefined : url;
}

/** The request to send when a call is cancelled: the configured one, else `DELETE <status URL>` once a job runs. */
export function cancelRequestOf(configured: CancelRequestConfig | undefined, values: CancelValues): { method: string; url: string } | undefined {
  if (configured) {
    const url = cancelUrlOf(configured.url, values);
    return url === undefined ? undefined : { method: configured.method, url };
  }
  return values.status_url === undefined ? undefined : { method: 'DELETE', url: values.status_url };
}

/**
 * Sends the cancel request, once, with the call's headers. Never throws: the
 * call ends CANCELLED whatever the endpoint does with it. Returns what
 * happened, for the log.
 */
export async function sendCancel(transport: Transport, request: { method: string; url: string }, headers: Record<string, string>): Promise<string> {
  try {
    const response = await transport.fetch(request.url, {
      method: request.method,
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(CANCEL_TIMEOUT_MS),
    });
    await response.body?.cancel().catch(() => {});
    return `answered ${response.status}`;
  } catch (error) {
    return `failed: ${error instanceof Error ? error.message : String(error)}`;
  }
}
