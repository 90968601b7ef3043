import { z } from 'zod';
import { defineTool, type ToolPriority } from '../../src/contracts/tool-spec';

/** A read tool whose calls run until the test opens their gate (implement it with `Gates.handler`). */
export function defineGateTool(options: { name?: string; ackAfterMs: number; priority?: ToolPriority }) {
  return defineTool({
    name: options.name ?? 'gate_tool',
    description: 'Runs until the test opens its gate.',
    input: z.strictObject({ label: z.string() }),
    output: z.object({ label: z.string() }),
    scopes: ['test'],
    sideEffect: 'read',
    budget: { ackAfterMs: options.ackAfterMs, timeoutMs: 10_000 },
    retry: { maxAttempts: 1 },
    ...(options.priority ? { priority: options.priority } : {}),
  });
}

/**
 * Calls that run until the test opens their gate, by label: a test holds an
 * admission permit (or any slot) exactly as long as it needs to.
 */
export class Gates {
  private readonly opened = new Set<string>();
  private readonly waiting = new Map<string, () => void>();

  /** The tool handler: returns `{ label }` once the label's gate is open. */
  readonly handler = async ({ label }: { label: string }): Promise<{ label: string }> => {
    if (!this.opened.has(label)) await new Promise<void>((resolve) => this.waiting.set(label, resolve));
    return { label };
  };

  open(label: string): void {
    this.opened.add(label);
    this.waiting.get(label)?.();
  }

  /** Whether a call with this label is running, waiting at its gate (or has). */
  reached(label: string): boolean {
    return this.waiting.has(label);
  }

  isOpen(label: string): boolean {
    return this.opened.has(label);
  }

  /** Opens every gate a call reached, so nothing is left running. */
  openAll(): void {
    for (const label of this.waiting.keys()) this.open(label);
  }
}
