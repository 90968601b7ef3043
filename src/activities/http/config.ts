import { z } from 'zod';
import { jsonSchemaObject, secretValue, toolPolicyConfig } from '../../contracts/tool-config';

/** Default cap on a response body: an endpoint that answers more is broken or hostile. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** Default pause between two polls of a long-running job's status URL. */
export const DEFAULT_JOB_POLL_INTERVAL_MS = 500;

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/**
 * What a cancel request's URL template may name, each filled in when the call
 * is cancelled:
 * - `{status_url}`: the job's status URL, as the endpoint gave it (absolute,
 *   inserted as is, so only at the start of the template). A template that
 *   names it is sent only once the endpoint started a job.
 * - `{idempotency_key}`: the call's idempotency key (the `Idempotency-Key` header).
 * - `{call_id}`: the call id the caller sees (the `Holdline-Call-Id` header).
 * - `{trace_id}`: the call's trace id (the `Holdline-Trace-Id` header).
 * All but `{status_url}` are percent-encoded where they are inserted.
 */
export const CANCEL_TEMPLATE_VARIABLES = ['status_url', 'idempotency_key', 'call_id', 'trace_id'] as const;
export type CancelTemplateVariable = (typeof CANCEL_TEMPLATE_VARIABLES)[number];

/** Headers Holdline sets on every request; a tool's own `headers` may not set them. */
export const RESERVED_HEADERS = [
  'idempotency-key',
  'traceparent',
  'holdline-trace-id',
  'holdline-tenant',
  'holdline-user',
  'holdline-call-id',
  'holdline-attempt',
  'content-type',
  'accept',
  'content-length',
  'host',
] as const;

const httpUrl = z.url({ protocol: /^https?$/, error: 'an absolute http:// or https:// URL' });

const cancelRequest = z
  .strictObject({
    method: z.enum(HTTP_METHODS).default('DELETE'),
    /** A URL template; see {@link CANCEL_TEMPLATE_VARIABLES}. */
    url: z.string().min(1),
  })
  .superRefine((cancel, ctx) => {
    const problem = cancelTemplateProblem(cancel.url);
    if (problem) ctx.addIssue({ code: 'custom', path: ['url'], message: problem });
  });

/**
 * One tool served by an HTTP endpoint, as the tools file declares it. The
 * names are those of `defineTool`; the file loader composes this schema into
 * the whole file's.
 */
export const httpToolConfig = toolPolicyConfig.extend({
  /** snake_case, as the model sees it. */
  name: z.string().min(1),
  /** Tells the model when to call the tool. */
  description: z.string().min(1),
  /** JSON Schema of the arguments: an object schema, made strict (unknown keys rejected). */
  input: jsonSchemaObject,
  /** JSON Schema the endpoint's result must match. Default: any JSON value. */
  output: jsonSchemaObject.optional(),
  url: httpUrl,
  /** Default POST. GET and DELETE send the arguments as the query string, the others as a JSON body. */
  method: z.enum(HTTP_METHODS).default('POST'),
  /** Extra request headers; a value may come from an environment variable, read at start. */
  headers: z
    .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name'), secretValue)
    .superRefine((headers, ctx) => {
      for (const name of Object.keys(headers)) {
        if ((RESERVED_HEADERS as readonly string[]).includes(name.toLowerCase())) {
          ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by Holdline on every request` });
        }
      }
    })
    .optional(),
  /** A longer body fails the call (it is not read further). Default 1 MiB. */
  maxResponseBytes: z
    .number()
    .int()
    .positive()
    .max(64 * 1024 * 1024)
    .default(DEFAULT_MAX_RESPONSE_BYTES),
  /**
   * A top-level number field (0 to 1) of the endpoint's result that says how
   * sure it is: taken out of the result and reported as the envelope's
   * `confidence`. Default: none.
   */
  confidenceField: z.string().min(1).optional(),
  /** How a long-running job (a `202` with a status URL) is followed. */
  job: z.strictObject({ pollIntervalMs: z.number().int().min(10).default(DEFAULT_JOB_POLL_INTERVAL_MS) }).default({ pollIntervalMs: DEFAULT_JOB_POLL_INTERVAL_MS }),
  /**
   * The request sent, once and best effort, when a cancellable call is
   * cancelled. Default: `DELETE {status_url}` once a job runs, nothing before.
   */
  cancel: cancelRequest.optional(),
});

/** One HTTP tool as parsed: every default filled in. */
export type HttpToolConfig = z.infer<typeof httpToolConfig>;
/** One HTTP tool as written: the defaults may be left out. */
export type HttpToolConfigInput = z.input<typeof httpToolConfig>;
export type CancelRequestConfig = z.infer<typeof cancelRequest>;

/** Why a cancel URL template cannot be used, or undefined when it can. */
export function cancelTemplateProblem(template: string): string | undefined {
  for (const [, variable] of template.matchAll(/\{([^{}]*)\}/g)) {
    if (!(CANCEL_TEMPLATE_VARIABLES as readonly string[]).includes(variable!)) {
      return `unknown variable {${variable}}; known: ${CANCEL_TEMPLATE_VARIABLES.map((v) => `{${v}}`).join(', ')}`;
    }
  }
  if (template.includes('{status_url}') && !template.startsWith('{status_url}')) return '{status_url} is a whole URL: it may only start the template';
  const sample = template.replace('{status_url}', 'http://status.invalid/job').replace(/\{[a-z_]+\}/g, 'x');
  if (!httpUrl.safeParse(sample).success) return 'must give an absolute http:// or https:// URL';
  return undefined;
}
