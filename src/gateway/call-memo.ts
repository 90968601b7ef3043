import { z } from 'zod';

/**
 * What the gateway keeps with each workflow (the Temporal memo), so any server
 * can rebuild a call's identity from Temporal. Written at start, read back
 * through this schema only.
 */
export const CallMemoSchema = z.object({
  fingerprint: z.string(),
  trace_id: z.string(),
  user_id: z.string(),
  tool_version: z.number(),
  /** Redacted by the tool's sensitive fields. */
  arguments: z.record(z.string(), z.unknown()),
});

export type CallMemo = z.infer<typeof CallMemoSchema>;

/** The memo of a workflow, or undefined when it is not a Holdline call's memo. */
export function readCallMemo(memo: unknown): CallMemo | undefined {
  const parsed = CallMemoSchema.safeParse(memo);
  return parsed.success ? parsed.data : undefined;
}
