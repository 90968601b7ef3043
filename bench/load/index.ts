// npm run load: Holdline as real processes (Temporal dev server, worker, server) on loopback under load.
//   1. --calls (10,000) calls over --clients (100) clients, HTTP and realtime mixed, closed loop;
//   2. the highest open-loop arrival rate the machine keeps up with (steps of --step s);
//   3. 80% of it held for --duration s: ack p99, errors, heap after warm-up vs at the end.
// Exits non-zero if a call is lost or duplicated; missed performance targets are reported.
// `npm run load -- spike [--duration s]`: twice that rate with admission adaptive and off (see spike.ts).
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { idleCheck, percent } from '../cpu';
import { startCluster, type Cluster } from '../chaos/cluster';
import { closedLoop } from './closed-loop';
import { MemoryWatch, type HeapSnapshot } from './memory';
import { openLoop } from './open-loop';
import { findMaxRate } from './rate-search';
import { printClosedLoop, printHold, printSteps } from './report';
import { ledgerMismatches } from './timed-call';
import { guardRun } from '../guard';
import { runSpike } from './spike';

/** The server's policy limits, lifted so the load measures Holdline, not its throttle. Printed with the results. */
const LIFTED_LIMITS = { HOLDLINE_TENANT_RATE_PER_SEC: '100000', HOLDLINE_TENANT_BURST: '100000', HOLDLINE_SESSION_MAX_IN_FLIGHT: '1000' };
/** Short refunds, so a call's own work does not hide Holdline's overhead. */
const REFUND_STAGE_MS = 20;

const startedAt = performance.now();
const say = (line: string) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '10000' },
      clients: { type: 'string', default: '100' },
      duration: { type: 'string', default: '120' },
      step: { type: 'string', default: '10' },
    },
  });
  const calls = positive(values.calls, '--calls');
  const clients = positive(values.clients, '--clients');
  const holdMs = positive(values.duration, '--duration') * 1000;
  const stepMs = positive(values.step, '--step') * 1000;

  let cluster: Cluster | undefined;
  guardRun('load', 40 * 60_000, () => cluster?.stop());

  try {
    const busyBefore = await idleCheck();
    cluster = await startCluster({ say, serverEnv: LIFTED_LIMITS, refundStageMs: REFUND_STAGE_MS, progressEveryMs: 50 });
    const runId = randomBytes(3).toString('hex');
    print('');
    print(`Holdline load: Temporal dev server, worker and server as separate processes on loopback; clients and the scripted model in this process.`);
    print(`Machine: ${cpus().length} cores, ${percent(busyBefore)} busy with other work before the run, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
    print(`Server limits lifted for the load: ${Object.entries(LIFTED_LIMITS).map(([k, v]) => `${k}=${v}`).join(' ')} (defaults: 50/s, burst 100, 8 in flight per session).`);
    print(`Refund stages ${REFUND_STAGE_MS} ms (default 1,000 ms): verify ${REFUND_STAGE_MS} ms, payment ${1.5 * REFUND_STAGE_MS} ms, record ${0.5 * REFUND_STAGE_MS} ms.`);
    print('');

    say(`1. ${calls} calls over ${clients} clients (half HTTP, half realtime; refunds and lookups alternate)`);
    const watch = new MemoryWatch(cluster);
    watch.start();
    const closed = await closedLoop(cluster, { calls, clients, runId });
    watch.stop();
    const rate = closed.samples.filter((s) => s.outcome === 'ok').length / (closed.elapsedMs / 1000);
    print('');
    const { lost, duplicated } = printClosedLoop(closed, ledgerMismatches(cluster, closed.samples), watch.peaks(), print);
    print('');

    say(`2. highest sustained open-loop rate of HTTP refunds, from ${Math.round(rate)}/s (the closed-loop ok rate), ${stepMs / 1000} s per step`);
    const search = await findMaxRate(cluster, { startRate: rate, stepMs, maxSteps: 6, runId }, (step) =>
      say(`   ${step.rate}/s: ${step.sustained ? 'kept up' : `did not keep up (${step.why})`}`),
    );
    print('');
    printSteps(search.steps, print);
    print('');
    if (search.best === undefined) {
      print('No rate tried was sustained; the hold is skipped.');
      return lost || duplicated ? 1 : 0;
    }

    const holdRate = Math.max(1, Math.round(search.best * 0.8));
    say(`3. holding ${holdRate}/s (80% of ${search.best}/s) for ${holdMs / 1000} s`);
    const warmAtMs = Math.min(30_000, Math.round(holdMs / 4));
    let warm: Promise<HeapSnapshot[]> | undefined;
    let end: Promise<HeapSnapshot[]> | undefined;
    const hold = await openLoop(cluster, { rate: holdRate, durationMs: holdMs, runId: `${runId}-hold` }, (elapsed) => {
      if (elapsed >= warmAtMs) warm ??= watch.snapshot();
      if (elapsed >= holdMs - 1_500) end ??= watch.snapshot();
    });
    print('');
    const figures = printHold({ rate: holdRate, durationMs: holdMs, offered: hold.offered, samples: hold.samples, warm: (await warm) ?? [], end: (await end) ?? (await watch.snapshot()), warmAtMs }, print);
    const holdLedger = ledgerMismatches(cluster, hold.samples);
    print(`  ledger: ${holdLedger.missing} ok refunds without a payment, ${holdLedger.duplicated} extra payments`);
    print('');
    const missed = [!figures.ackMet && 'ack p99', !figures.errorsMet && 'errors', !figures.heapMet && 'flat heap'].filter(Boolean);
    print(missed.length ? `Targets missed: ${missed.join(', ')}.` : 'All targets met.');
    print(`Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
    return lost || duplicated || holdLedger.missing || holdLedger.duplicated ? 1 : 0;
  } finally {
    say('cleaning up');
    await cluster?.stop();
  }
}

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number`);
  return n;
}

(process.argv[2] === 'spike' ? runSpike(process.argv.slice(3)) : main()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`load: crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
