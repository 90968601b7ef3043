import { z } from 'zod';
import { ToolDefinitionError } from './errors';
import { RUN_AS } from './tool-call';
import { TOOL_PRIORITIES, type ToolDeclaration } from './tool-spec';

/**
 * The parts of a tool declaration a tools file (JSON or YAML) states, shared
 * by every tool source the file configures (HTTP endpoints, MCP servers). The
 * names are those of `defineTool`, so a file reads like the TypeScript API.
 */

const positiveMs = z.number().int().positive();

export const budgetConfig = z.strictObject({
  ackAfterMs: z.number().int().min(0),
  timeoutMs: positiveMs,
  attemptTimeoutMs: positiveMs.optional(),
  heartbeatTimeoutMs: positiveMs.optional(),
});

export const retryConfig = z.strictObject({
  maxAttempts: z.number().int().min(1).max(100).optional(),
  initialIntervalMs: positiveMs.optional(),
  backoffCoefficient: z.number().min(1).optional(),
  maxIntervalMs: positiveMs.optional(),
  nonRetryableErrorTypes: z.array(z.string().min(1)).optional(),
});

/** What a configured tool may say about how it runs and who may call it. */
export const toolPolicyConfig = z.strictObject({
  scopes: z.array(z.string().regex(/^\S+$/, 'a scope has no spaces')).min(1),
  sideEffect: z.enum(['read', 'write']),
  budget: budgetConfig,
  retry: retryConfig.optional(),
  cancellable: z.boolean().optional(),
  needsApproval: z.boolean().optional(),
  approvalTimeoutMs: positiveMs.optional(),
  sensitive: z.array(z.string()).optional(),
  version: z.number().int().positive().optional(),
  priority: z.enum(TOOL_PRIORITIES).optional(),
  /**
   * `activity` (default) or `local-activity`: a short tool run inside the
   * workflow's own task, two task dispatches fewer per call. A local activity
   * cannot heartbeat, so it takes no `budget.heartbeatTimeoutMs`.
   */
  runAs: z.enum(RUN_AS).optional(),
});
export type ToolPolicyConfig = z.infer<typeof toolPolicyConfig>;

/** The `defineTool` fields a policy from a file sets; undefined entries left out, so defaults apply. */
export function declarationFieldsOf(policy: Partial<ToolPolicyConfig>): Partial<ToolDeclaration<string, z.ZodObject, z.ZodType>> {
  return Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined));
}

/**
 * A value that may be a secret: given inline, or read from an environment
 * variable at start (`{ env: "CRM_TOKEN", prefix: "Bearer " }`), so the file
 * itself can be committed.
 */
export const secretValue = z.union([
  z.string(),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), prefix: z.string().optional() }),
]);
export type SecretValue = z.infer<typeof secretValue>;

/** Thrown at start when a tools file names an environment variable that is not set. */
export class MissingSecretError extends Error {
  constructor(
    readonly variable: string,
    readonly where: string,
  ) {
    super(`${where} reads the environment variable ${variable}, which is not set`);
    this.name = 'MissingSecretError';
  }
}

export function resolveSecret(value: SecretValue, env: NodeJS.ProcessEnv, where: string): string {
  if (typeof value === 'string') return value;
  const found = env[value.env];
  if (found === undefined) throw new MissingSecretError(value.env, where);
  return `${value.prefix ?? ''}${found}`;
}

export function resolveSecrets(values: Readonly<Record<string, SecretValue>> | undefined, env: NodeJS.ProcessEnv, where: string): Record<string, string> {
  return Object.fromEntries(Object.entries(values ?? {}).map(([name, value]) => [name, resolveSecret(value, env, `${where}.${name}`)]));
}

/** A JSON Schema as a file or an MCP server gives it; checked further by {@link strictInputOf}. */
export const jsonSchemaObject = z.record(z.string(), z.unknown());

/**
 * The zod schema of a tool's input given as JSON Schema: an object whose
 * unknown keys are rejected at every depth (see {@link closedSchema}), and at
 * the top whatever the schema says about `additionalProperties` (arguments
 * come from a model and are untrusted).
 * Throws a `ToolDefinitionError` naming the tool when the schema is not an
 * object schema or has no zod form.
 */
export function strictInputOf(tool: string, schema: Record<string, unknown>): z.ZodObject {
  if (schema.type !== 'object') throw new ToolDefinitionError(tool, 'the input JSON Schema must have "type": "object"');
  let converted: z.ZodType;
  try {
    const closed = { ...(closedSchema(schema) as Record<string, unknown>), additionalProperties: false };
    converted = z.fromJSONSchema(closed as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new ToolDefinitionError(tool, `the input JSON Schema cannot be used (${(error as Error).message})`);
  }
  if (!(converted instanceof z.ZodObject)) throw new ToolDefinitionError(tool, 'the input JSON Schema must describe an object');
  return converted.strict();
}

/** Keywords whose value is a schema or a list of them, in which a model's arguments are checked. */
const SUBSCHEMA_KEYWORDS = new Set(['items', 'prefixItems', 'additionalItems', 'additionalProperties', 'contains', 'anyOf', 'oneOf', 'allOf']);
/** Keywords whose value maps names to schemas. */
const SCHEMA_MAP_KEYWORDS = new Set(['properties', 'patternProperties', '$defs', 'definitions']);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A copy of a JSON Schema in which every object schema that names its keys
 * rejects unknown ones: zod's `fromJSONSchema` lets keys through unless
 * `additionalProperties` is `false`, so an unknown nested key in a model's
 * arguments would reach the endpoint or MCP server. An object whose
 * `additionalProperties` is a schema is a map and stays one (its values
 * closed in turn); an object that names no keys at all (`{"type": "object"}`)
 * is free-form by its author's word and stays so, as many MCP servers'
 * `metadata`-style arguments are. A schema with `properties` and no `type` becomes an
 * object schema, since zod reads a schema without a type as any value.
 * `not` and instance data (`enum`, `const`, `default`) are left as they are:
 * closing an object under `not` would widen what it accepts.
 */
function closedSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closedSchema);
  if (!isRecord(schema)) return schema;
  const closed = Object.fromEntries(
    Object.entries(schema).map(([key, value]) => {
      if (SUBSCHEMA_KEYWORDS.has(key)) return [key, closedSchema(value)];
      if (SCHEMA_MAP_KEYWORDS.has(key) && isRecord(value)) return [key, Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, closedSchema(sub)]))];
      return [key, value];
    }),
  );
  if (closed.type === undefined && isRecord(closed.properties)) closed.type = 'object';
  const isObject = closed.type === 'object' || (Array.isArray(closed.type) && closed.type.includes('object'));
  const namesKeys = isRecord(closed.properties) || isRecord(closed.patternProperties);
  if (isObject && namesKeys && !isRecord(closed.additionalProperties)) closed.additionalProperties = false;
  return closed;
}

/** The zod schema of a tool's output given as JSON Schema; any value when none is given. */
export function outputOf(tool: string, schema: Record<string, unknown> | undefined): z.ZodType {
  if (!schema) return z.unknown();
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw new ToolDefinitionError(tool, `the output JSON Schema cannot be used (${(error as Error).message})`);
  }
}
