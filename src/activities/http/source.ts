import { ToolDefinitionError } from '../../contracts/errors';
import { declarationFieldsOf, outputOf, resolveSecrets, strictInputOf } from '../../contracts/tool-config';
import type { ToolSource } from '../../contracts/tool-source';
import { defineTool } from '../../contracts/tool-spec';
import { implementTool, type ToolImplementation } from '../tool-adapter';
import { callEndpoint, type HttpEndpoint } from './call';
import { httpToolConfig, type HttpToolConfigInput } from './config';

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
    const issue = parsed.error.issues[0]!;
    throw new ToolDefinitionError(label, `${issue.path.join('.') || 'the entry'}: ${issue.message}`);
  }
  const config = parsed.data;
  const { name, description, input, output, url: _url, method: _method, headers: rawHeaders, maxResponseBytes, confidenceField: _c, job: _j, cancel: _x, ...policy } = config;
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
