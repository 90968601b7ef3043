// npm run chaos: Holdline as real processes (Temporal dev server, worker, server) on loopback,
// faults injected, each scenario repeated; prints a table and exits non-zero if any trial failed.
//   --trials N        trials per scenario (default 20)
//   --scenario NAME   run one scenario (repeatable)
//   --quick           shorter spread storm (10 s instead of 60 s)
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { startCluster, type Cluster } from './cluster';
import { formatTable, runScenario, type ScenarioResult } from './runner';
import { SIZES } from './scenario';
import { SCENARIOS } from './scenarios';
import { guardRun } from '../guard';

const startedAt = performance.now();
const say = (line: string) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { trials: { type: 'string', default: '20' }, scenario: { type: 'string', multiple: true }, quick: { type: 'boolean', default: false } },
  });
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive whole number');
  const names = values.scenario ?? SCENARIOS.map((s) => s.name);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const sizes = values.quick ? SIZES.quick : SIZES.full;

  let cluster: Cluster | undefined;
  guardRun('chaos', 60 * 60_000, () => cluster?.stop());

  try {
    cluster = await startCluster({ say });
    say(`Holdline at ${cluster.apiUrl} (default limits), Temporal at ${cluster.temporal.address}; ${trials} trial(s) each of ${names.join(', ')}`);
    say(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; sizes ${JSON.stringify(sizes)}`);
    const results: ScenarioResult[] = [];
    for (const scenario of SCENARIOS.filter((s) => names.includes(s.name))) {
      say(`${scenario.name}: ${scenario.description}`);
      results.push(
        await runScenario(cluster, scenario, {
          trials,
          sizes,
          onTrial: (name, trial, outcome) => {
            const errors = outcome.errorKinds?.length ? `, ended in error: ${summarizeKinds(outcome.errorKinds)}` : '';
            say(`  ${name} #${trial}: ${outcome.failures.length ? 'FAILED' : 'passed'} (${outcome.calls} calls, ${outcome.sideEffects} side effects${errors})`);
            for (const failure of outcome.failures) say(`    - ${failure}`);
          },
        }),
      );
    }
    const print = (line: string) => process.stdout.write(`${line}\n`);
    print('');
    for (const line of formatTable(results)) print(line);
    print('');
    for (const scenario of SCENARIOS.filter((s) => names.includes(s.name))) print(`  ${scenario.name}: ${scenario.description}`);
    for (const r of results) {
      if (!r.failures.length) continue;
      print(`${r.name} failures:`);
      for (const { trial, failure } of r.failures) print(`  #${trial}: ${failure}`);
    }
    print(`machine load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    const failed = results.filter((r) => r.passed < r.trials);
    print(failed.length ? `\nFAILED: ${failed.map((r) => `${r.name} (${r.trials - r.passed} of ${r.trials})`).join(', ')}` : '\nall trials passed');
    return failed.length ? 1 : 0;
  } finally {
    say('cleaning up');
    await cluster?.stop();
  }
}

/** `3× TOOL_FAILED/REFUND_EXCEEDS_BALANCE, 1× BACKEND_UNAVAILABLE` */
function summarizeKinds(kinds: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${n}× ${kind}`).join(', ');
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
