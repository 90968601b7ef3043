import { randomBytes } from 'node:crypto';
import type { Cluster } from './cluster';
import type { TrialOutcome } from './invariants';
import type { Scenario, Sizes } from './scenario';

/** One scenario's trials, summed; each failure keeps its trial number. */
export interface ScenarioResult {
  name: string;
  trials: number;
  passed: number;
  calls: number;
  sideEffects: number;
  terminalEnvelopes: number;
  lost: number;
  duplicated: number;
  failures: { trial: number; failure: string }[];
}

export interface RunOptions {
  trials: number;
  sizes: Sizes;
  /** A trial still running after this long fails. Default 4 minutes. */
  trialTimeoutMs?: number;
  /** Hears each trial's verdict as it ends. */
  onTrial?: (scenario: string, trial: number, outcome: TrialOutcome) => void;
}

const RUN = randomBytes(3).toString('hex');

/**
 * Runs a scenario's trials (in batches when it allows overlap). After each
 * batch, anything found down is started again and reported as a failure of
 * that batch: a process must not die unless the scenario killed it.
 */
export async function runScenario(cluster: Cluster, scenario: Scenario, options: RunOptions): Promise<ScenarioResult> {
  const result: ScenarioResult = { name: scenario.name, trials: 0, passed: 0, calls: 0, sideEffects: 0, terminalEnvelopes: 0, lost: 0, duplicated: 0, failures: [] };
  const batch = Math.max(1, scenario.parallel?.(options.sizes) ?? 1);
  for (let first = 0; first < options.trials; first += batch) {
    const indexes = Array.from({ length: Math.min(batch, options.trials - first) }, (_, i) => first + i);
    const outcomes = await Promise.all(indexes.map((index) => runTrial(cluster, scenario, index, options)));
    const down = await cluster.ensureUp();
    for (const [i, outcome] of outcomes.entries()) {
      const index = indexes[i]!;
      if (i === outcomes.length - 1) outcome.failures.push(...down.map((d) => `process down after the trial: ${d}`));
      options.onTrial?.(scenario.name, index + 1, outcome);
      result.trials++;
      if (outcome.failures.length === 0) result.passed++;
      result.calls += outcome.calls;
      result.sideEffects += outcome.sideEffects;
      result.terminalEnvelopes += outcome.terminalEnvelopes;
      result.lost += outcome.lost;
      result.duplicated += outcome.duplicated;
      result.failures.push(...outcome.failures.map((failure) => ({ trial: index + 1, failure })));
    }
  }
  return result;
}

async function runTrial(cluster: Cluster, scenario: Scenario, index: number, options: RunOptions): Promise<TrialOutcome> {
  const timeoutMs = options.trialTimeoutMs ?? 4 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<TrialOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve({ calls: 0, sideEffects: 0, terminalEnvelopes: 0, lost: 0, duplicated: 0, failures: [`hung: the trial did not finish within ${timeoutMs / 1000} s`] }),
      timeoutMs,
    );
  });
  const trial = { index, sizes: options.sizes, user: `chaos-${scenario.name}-${RUN}-${index}`, tag: `${RUN}-${index}` };
  try {
    return await Promise.race([
      scenario.run(cluster, trial).catch((error: unknown): TrialOutcome => ({
        calls: 0,
        sideEffects: 0,
        terminalEnvelopes: 0,
        lost: 0,
        duplicated: 0,
        failures: [`crashed: ${error instanceof Error ? error.message : String(error)}`],
      })),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The chaos table, one row per scenario, and every failure under it. */
export function formatTable(results: readonly ScenarioResult[]): string[] {
  const header = ['scenario', 'trials', 'passed', 'calls', 'side effects', 'terminal envelopes', 'lost', 'duplicated'];
  const rows = results.map((r) => [r.name, r.trials, r.passed, r.calls, r.sideEffects, r.terminalEnvelopes, r.lost, r.duplicated].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)];
}
