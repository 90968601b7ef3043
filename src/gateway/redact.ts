import type { ToolSpec } from '../contracts/tool-spec';

export const REDACTED = '[redacted]';

/** The arguments with the tool's sensitive fields masked: what logs and the audit memo keep. */
export function redactArguments(spec: ToolSpec, args: Record<string, unknown>): Record<string, unknown> {
  if (spec.sensitive.length === 0) return args;
  const copy = { ...args };
  for (const field of spec.sensitive) if (field in copy) copy[field] = REDACTED;
  return copy;
}
