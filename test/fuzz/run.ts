// npm run fuzz [-- --cases 100000 --max-seconds 600 --seed N]: the property tests of
// test/fuzz/*.test.ts on a long budget, against a real Temporal dev server of its own.
// Runs every case (a failure is counted, not the end), checks /healthz after each
// batch, prints cases run, failures and duration, and exits non-zero on any failure.
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import globalSetup from '../support/global-setup';
import globalTeardown from '../support/global-teardown';
import { startHarness, type Harness } from '../support/harness';
import {
  callCases,
  checkFrame,
  checkHttp,
  checkResponsive,
  checkSubmit,
  closeAgent,
  frames,
  httpCases,
  prepareGatewayFuzz,
  runProperty,
  type PropertyReport,
} from './properties';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    'max-seconds': { type: 'string', default: '600' },
    seed: { type: 'string' },
    batches: { type: 'string', default: '10' },
  },
});
const totalCases = Number(values.cases);
const maxSeconds = Number(values['max-seconds']);
const batches = Number(values.batches);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
if (![totalCases, maxSeconds, batches, seed].every(Number.isFinite) || totalCases < batches) {
  process.stderr.write('usage: npm run fuzz -- [--cases N] [--max-seconds S] [--batches B] [--seed N]\n');
  process.exit(2);
}

/** The harness's argument limit (test/support/harness.ts). */
const MAX_ARGUMENT_BYTES = 4_096;
/** Each property's share of the cases and of the time: the parser is cheap, a call over HTTP is not. */
const SHARES = { frames: 0.6, submit: 0.3, http: 0.1 };

const startedAt = performance.now();
const say = (line: string) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

async function main(): Promise<number> {
  // A hang is a failure: the whole run is bounded however the cases behave.
  const watchdog = setTimeout(() => {
    process.stderr.write(`fuzz: still running ${maxSeconds + 120} s after the start; giving up\n`);
    process.exit(1);
  }, (maxSeconds + 120) * 1000);
  watchdog.unref();

  process.env.HOLDLINE_TEST_LOG ??= 'error';
  say('starting a Temporal dev server and a harness');
  await globalSetup();
  let h: Harness | undefined;
  const reports: PropertyReport[] = [];
  const healthz: number[] = [];
  try {
    h = await startHarness();
    const fuzz = await prepareGatewayFuzz(h, MAX_ARGUMENT_BYTES);
    const harness = h;
    const plan = [
      { name: 'frame parser', share: SHARES.frames, run: (numRuns: number, timeLimitMs: number, s: number) => runProperty('frames', frames, checkFrame, { numRuns, timeLimitMs, seed: s }, 'count') },
      { name: 'gateway.submit', share: SHARES.submit, run: (numRuns: number, timeLimitMs: number, s: number) => runProperty('submit', callCases(fuzz), (c) => checkSubmit(fuzz, c), { numRuns, timeLimitMs, seed: s }, 'count') },
      { name: 'HTTP API', share: SHARES.http, run: (numRuns: number, timeLimitMs: number, s: number) => runProperty('http', httpCases(fuzz), (c) => checkHttp(fuzz, c), { numRuns, timeLimitMs, seed: s }, 'count') },
    ];
    say(`seed ${seed}; ${totalCases} cases in ${batches} batches per property, at most ${maxSeconds} s`);
    const endAt = performance.now() + maxSeconds * 1000;
    for (const [index, property] of plan.entries()) {
      const cases = Math.round(totalCases * property.share);
      // Time a cheaper property left unused goes to the ones after it.
      const sharesLeft = plan.slice(index).reduce((sum, p) => sum + p.share, 0);
      const deadline = performance.now() + (endAt - performance.now()) * (property.share / sharesLeft);
      const report: PropertyReport = { name: property.name, runs: 0, failures: 0, examples: [], durationMs: 0 };
      for (let batch = 0; batch < batches && performance.now() < deadline; batch++) {
        const size = Math.floor(cases / batches) + (batch < cases % batches ? 1 : 0);
        const part = await property.run(size, Math.max(1, deadline - performance.now()), seed + index * 1_000 + batch);
        report.runs += part.runs;
        report.failures += part.failures;
        report.durationMs += part.durationMs;
        report.examples.push(...part.examples.slice(0, 5 - report.examples.length));
        try {
          healthz.push(await checkResponsive(harness.url, 1_000));
        } catch (error) {
          report.failures++;
          report.examples.push(`unresponsive after batch ${batch + 1}: ${(error as Error).message}`);
        }
        // The harness keeps every log line; the properties do not read them.
        harness.logs.length = 0;
      }
      reports.push(report);
      say(`${property.name}: ${report.runs} cases, ${report.failures} failures, ${(report.durationMs / 1000).toFixed(1)} s`);
    }
    say(`calls started by valid cases: ${fuzz.starts.length}`);
    fuzz.restore();
  } finally {
    closeAgent();
    await h?.stop();
    await globalTeardown();
  }

  const runs = reports.reduce((sum, r) => sum + r.runs, 0);
  const failures = reports.reduce((sum, r) => sum + r.failures, 0);
  const seconds = (performance.now() - startedAt) / 1000;
  const rows = reports.map((r) => `${r.name.padEnd(16)}${String(r.runs).padStart(9)}${String(r.failures).padStart(10)}${`${(r.durationMs / 1000).toFixed(1)} s`.padStart(12)}`);
  process.stdout.write(`\n${'property'.padEnd(16)}${'cases'.padStart(9)}${'failures'.padStart(10)}${'duration'.padStart(12)}\n${rows.join('\n')}\n`);
  const sorted = [...healthz].sort((a, b) => a - b);
  process.stdout.write(`/healthz after each batch: ${healthz.length} checks, slowest ${Math.round(sorted.at(-1) ?? 0)} ms\n`);
  for (const r of reports) for (const example of r.examples) process.stdout.write(`\n${r.name} failure: ${example}\n`);
  process.stdout.write(`\nfuzz: ${runs} cases, ${failures} failures, ${seconds.toFixed(1)} s (seed ${seed})\n`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`fuzz: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
