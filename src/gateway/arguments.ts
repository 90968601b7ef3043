import type { z } from 'zod';
import type { ToolSpec } from '../contracts/tool-spec';
import { GatewayRejection } from './rejection';

/** At most this many zod issues go back to the caller; the rest are counted. */
const MAX_ISSUES = 5;

/**
 * Arguments arrive as an object or as the JSON string a model emits. Either
 * way they are measured, parsed and checked strictly against the tool's input
 * schema before anything else happens.
 */
export function checkArguments(spec: ToolSpec, raw: unknown, maxBytes: number): Record<string, unknown> {
  // Measured without recursion first: JSON.stringify overflows its stack a few thousand levels down.
  if (typeof raw !== 'string') checkDepth(raw);
  const size = Buffer.byteLength(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? ''), 'utf8');
  if (size > maxBytes) {
    throw new GatewayRejection('INVALID_ARGUMENTS', `The arguments are ${size} bytes; the limit is ${maxBytes}`, {
      httpStatus: 413,
      details: { size_bytes: size, limit_bytes: maxBytes },
    });
  }
  const value = typeof raw === 'string' ? parseJson(raw) : raw ?? {};
  if (typeof raw === 'string') checkDepth(value);
  const result = spec.input.safeParse(value);
  if (!result.success) {
    throw new GatewayRejection('INVALID_ARGUMENTS', `The arguments do not match ${spec.name}: ${summarize(result.error.issues)}`, {
      details: { issues: trimIssues(result.error.issues) },
    });
  }
  return result.data as Record<string, unknown>;
}

/** Deeper than any tool's schema goes, and far from where a recursive walker (validation, hashing, serialization) overflows. */
const MAX_DEPTH = 64;

function checkDepth(root: unknown): void {
  const pending: [unknown, number][] = [[root, 0]];
  while (pending.length) {
    const [value, depth] = pending.pop()!;
    if (!value || typeof value !== 'object') continue;
    if (depth >= MAX_DEPTH) throw new GatewayRejection('INVALID_ARGUMENTS', `The arguments are nested more than ${MAX_DEPTH} levels deep`);
    for (const child of Object.values(value)) pending.push([child, depth + 1]);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new GatewayRejection('INVALID_ARGUMENTS', 'The arguments are not valid JSON');
  }
}

type Issue = z.core.$ZodIssue;

function trimIssues(issues: readonly Issue[]): { path: string; code: string; message: string }[] {
  return issues.slice(0, MAX_ISSUES).map((issue) => ({ path: pathOf(issue), code: issue.code, message: issue.message.slice(0, 200) }));
}

function summarize(issues: readonly Issue[]): string {
  const shown = issues.slice(0, MAX_ISSUES).map((issue) => `${pathOf(issue) || '(root)'}: ${issue.message}`);
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : '';
  return shown.join('; ') + more;
}

function pathOf(issue: Issue): string {
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const base = issue.path.map(String).join('.');
  return keys.length ? [base, keys.join(',')].filter(Boolean).join('.') : base;
}
