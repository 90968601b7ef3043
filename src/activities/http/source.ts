import { ToolDefinitionError } from '../../contracts/errors';
import { declarationFieldsOf, outputOf, resolveSecrets, strictInputOf, toolPolicyConfig, type ToolPolicyConfig } from '../../contracts/tool-config';
import type { ToolSource } from '../../contracts/tool-source';
import { defineTool } from '../../contracts/tool-spec';
import { implementTool, type ToolImplementation } from '../tool-adapter';
import { callEndpoint, type HttpEndpoint } from './call';
import { httpToolConfig, type HttpToolConfigInput } from './config';

const POLICY_FIELDS = toolPolicyConfig.keyof().options;

export interface HttpToolSourceOptions {
  /** Where `{ "env": … }` header values are read, once, here. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * The tools served by HTTP endpoints, one activity per tool, named as the
 * tool. Each is declared through `defineTool` and run through
 * `implementTool`, so validation, retries, budgets and failure mapping are
 * those of any tool. A misconfigured tool (a bad field, a missing environment
 * variable, an input schema that is not an object) throws here, naming the
 * tool and the field.
 *
 * What an endpoint receives, on every attempt:
 * - the arguments as a JSON body (POST, PUT, PATCH) or as the query string
 *   (GET, DELETE; see `queryOf`), with `content-type: application/json`;
 * - `Idempotency-Key`: the call's key, namespaced by tenant and user and the
 *   same on every attempt: an endpoint that does a side effect once per key
 *   makes the call's side effect happen once, whatever crashes and retries;
 * - `traceparent` (W3C; one trace per call, one parent id per attempt) and
 *   `Holdline-Trace-Id`, `Holdline-Tenant`, `Holdline-User`,
 *   `Holdline-Call-Id`, `Holdline-Attempt` (values outside visible ASCII
 *   percent-encoded), after the tool's own `headers`.
 *
 * What Holdline makes of the answer:
 * - 2xx with a JSON body: the result (checked against `output`;
 *   `confidenceField` taken out as the confidence); `202` with a status URL
 *   starts a job (the protocol is on `followJob`, job.ts);
 * - 4xx but 408 and 429: TOOL_FAILED, not retried, with the endpoint's
 *   message (JSON `message`, `error` or `error.message`, else the text),
 *   sanitized and at most 300 characters; the failure type is `HTTP_<status>`;
 * - 5xx, 408, 429, no answer within the attempt's time, no connection:
 *   retried within the budget; the call ends TOOL_FAILED or TIMEOUT when it
 *   is spent;
 * - a 2xx that is not JSON, or longer than `maxResponseBytes` (reading stops
 *   there), and redirects (not followed): TOOL_FAILED, not retried.
 */
export function createHttpToolSource(configs: readonly HttpToolConfigInput[], options: HttpToolSourceOptions = {}): ToolSource {
  const env = options.env ?? process.env;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const implementations: ToolImplementation[] = [];
  for (const [index, raw] of configs.entries()) {
    const implementation = implementationOf(raw, index, env, fetchImpl);
    if (implementations.some(({ spec }) => spec.name === implementation.spec.name)) {
      throw new ToolDefinitionError(implementation.spec.name, 'two HTTP tools have this name');
    }
    implementations.push(implementation);
  }
  const specs = Object.freeze(implementations.map(({ spec }) => spec));
  return {
    name: 'http',
    specs: () => specs,
    unavailable: () => new Map(),
    activities: Object.freeze(Object.fromEntries(implementations.map(({ spec, activity }) => [spec.activity, activity]))),
    close: async () => {},
  };
}

function implementationOf(raw: HttpToolConfigInput, index: number, env: NodeJS.ProcessEnv, fetchImpl: typeof fetch): ToolImplementation {
  const parsed = httpToolConfig.safeParse(raw);
  const label = typeof (raw as { name?: unknown }).name === 'string' ? raw.name : `#${index + 1}`;
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'the entry'}: ${issue.message}`);
    throw new ToolDefinitionError(label, problems.join('; '));
  }
  const config = parsed.data;
  const { name, description, input, output, headers: rawHeaders, maxResponseBytes } = config;
  const policy = Object.fromEntries(POLICY_FIELDS.map((field) => [field, config[field]])) as ToolPolicyConfig;
  const headers = resolveSecrets(rawHeaders, env, `tool "${name}" headers`);
  for (const [header, value] of Object.entries(headers)) {
    if (/[\0\r\n]/.test(value)) throw new ToolDefinitionError(name, `headers.${header}: the value has a line break or NUL`);
  }
  const spec = defineTool({
    ...declarationFieldsOf(policy),
    name,
    description,
    input: strictInputOf(name, input),
    output: outputOf(name, output),
    scopes: policy.scopes,
    sideEffect: policy.sideEffect,
    budget: policy.budget,
  });
  const endpoint: HttpEndpoint = {
    config,
    headers: Object.freeze(headers),
    transport: { fetch: fetchImpl, maxResponseBytes },
    attemptTimeoutMs: spec.budget.attemptTimeoutMs,
  };
  return implementTool(spec, (args, ctx) => callEndpoint(endpoint, args, ctx));
}
