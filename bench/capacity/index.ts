import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../../src/cluster/cluster';
import { CALL_KINDS, type CallKind } from './calls';
import { measurePerCall, measureThroughput, type PerCall, type Throughput } from './measure';
import { holdlineEnv, startClusterTarget, startDevTarget, type Target } from './targets';

/**
 * `npm run bench -- capacity`: what one call costs Temporal (requests,
 * history events, persistence writes, Temporal Cloud actions) for each kind
 * of call, and calls/s at saturation with the CPU of every process, on the
 * cluster and then on the dev server with the same Holdline processes.
 * SCALING.md is written from its output.
 */
const PLAN = {
  perCall: { lookup: 40, refund: 20, approval: 20 } satisfies Record<CallKind, number>,
  concurrency: 5,
  /** Refund stages of 300 ms: about 1 s per refund, with progress every 200 ms. */
  refundStageMs: 300,
  throughput: { kind: 'lookup' as CallKind, clients: 32, seconds: 20 },
};

export interface TargetResult {
  target: string;
  perCall: PerCall[];
  throughput: Throughput;
}

export async function runCapacity(say: (line: string) => void, print: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'holdline-capacity-'));
  // PostgreSQL runs as its own user, which must pass through this folder to reach its data.
  chmodSync(dir, 0o711);
  let cluster: Cluster | undefined;
  let stopDev: (() => Promise<void>) | undefined;
  const loadBefore = loadavg();
  const results: TargetResult[] = [];
  try {
    const env = holdlineEnv(PLAN.refundStageMs);
    say('starting the cluster (PostgreSQL, Temporal v1.29.1 with metrics, Redis, 2 workers, 2 servers)');
    const started = await startClusterTarget(join(dir, 'cluster'), env, say);
    cluster = started.cluster;
    results.push(await measureTarget(started.target, 'k', say));
    const dev = await startDevTarget(cluster, dir, env, say);
    stopDev = dev.stop;
    results.push(await measureTarget(dev.target, 'd', say));
  } finally {
    say('stopping everything');
    await stopDev?.().catch((error: unknown) => say(`dev target stop: ${String(error)}`));
    await cluster?.stop().catch((error: unknown) => say(`cluster stop: ${String(error)}`));
    rmSync(dir, { recursive: true, force: true });
  }
  printCapacityReport(results, { loadBefore, loadAfter: loadavg() }, print);
}

async function measureTarget(target: Target, runId: string, say: (line: string) => void): Promise<TargetResult> {
  const perCall: PerCall[] = [];
  for (const kind of Object.keys(PLAN.perCall) as CallKind[]) {
    say(`${target.name}: ${PLAN.perCall[kind]} ${CALL_KINDS[kind]} calls, ${PLAN.concurrency} at a time`);
    perCall.push(await measurePerCall(target, kind, PLAN.perCall[kind], PLAN.concurrency, runId));
  }
  const { kind, clients, seconds } = PLAN.throughput;
  say(`${target.name}: throughput, ${clients} clients of ${CALL_KINDS[kind]} for ${seconds} s`);
  const throughput = await measureThroughput(target, kind, clients, seconds, runId);
  return { target: target.name, perCall, throughput };
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const top = (record: Record<string, number>, n = 8) =>
  Object.entries(record)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${f1(v)}`)
    .join(', ');

export function printCapacityReport(results: TargetResult[], load: { loadBefore: number[]; loadAfter: number[] }, print: (line: string) => void): void {
  print(`load average before ${load.loadBefore.map(f2).join(' ')}, after ${load.loadAfter.map(f2).join(' ')}`);
  print('');
  print('## Per call');
  print('');
  print('| Temporal | call | frontend requests | internal requests (history, matching) | persistence writes | persistence reads | history events | Cloud actions |');
  print('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) for (const c of r.perCall) print(`| ${r.target} | ${CALL_KINDS[c.kind]} | ${f1(c.frontend)} | ${f1(c.internal)} | ${f1(c.persistenceWrites)} | ${f1(c.persistenceReads)} | ${f1(c.events)} | ${f1(c.actionsTotal)} |`);
  print('');
  const procs = [...new Set(results.flatMap((r) => r.perCall.flatMap((c) => Object.keys(c.cpuMs))))];
  print(`CPU ms per call (window less idle; ${PLAN.concurrency} calls at a time, so includes waiting overheads of a light load):`);
  print('');
  print(`| Temporal | call | ${procs.join(' | ')} |`);
  print(`|---|---|${procs.map(() => '---:|').join('')}`);
  for (const r of results) for (const c of r.perCall) print(`| ${r.target} | ${c.kind} | ${procs.map((p) => f1(c.cpuMs[p] ?? Number.NaN)).join(' | ')} |`);
  print('');
  for (const r of results)
    for (const c of r.perCall) {
      print(`- ${r.target}, ${c.kind}: frontend by method: ${top(c.frontendByMethod, 12)}`);
      print(`  - persistence writes by operation: ${top(c.writesByOperation, 12)}`);
      print(`  - persistence reads by operation: ${top(c.readsByOperation, 12)}`);
      print(`  - actions: ${top(c.actions, 12)}`);
      print(`  - events: ${top(c.eventTypes, 20)}`);
    }
  print('');
  print('## Throughput at saturation');
  print('');
  const names = [...new Set(results.flatMap((r) => Object.keys(r.throughput.cores)))];
  print(`| Temporal | call | clients | calls/s | p50 ms | p95 ms | errors | frontend req/s | ${names.join(' | ')} | machine | calls/s per worker core | per server core | per Temporal core |`);
  print(`|---|---|---:|---:|---:|---:|---:|---:|${names.map(() => '---:|').join('')}---:|---:|---:|---:|`);
  for (const r of results) {
    const t = r.throughput;
    const sum = (prefix: string) => Object.entries(t.cores).filter(([k]) => k.startsWith(prefix)).reduce((s, [, v]) => s + v, 0);
    print(
      `| ${r.target} | ${CALL_KINDS[PLAN.throughput.kind]} | ${t.clients} | ${f1(t.callsPerSecond)} | ${f1(t.p50Ms)} | ${f1(t.p95Ms)} | ${t.errors} | ${f1(t.frontendPerSecond)} | ${names.map((n) => f2(t.cores[n] ?? Number.NaN)).join(' | ')} | ${f2(t.machineCores)} | ${f1(t.callsPerSecond / sum('worker-'))} | ${f1(t.callsPerSecond / sum('server-'))} | ${f1(t.callsPerSecond / sum('temporal'))} |`,
    );
  }
  for (const r of results) for (const [kind, n] of Object.entries(r.throughput.errorKinds)) print(`- ${r.target} error ×${n}: ${kind}`);
  print('');
  print('Cores are CPU seconds per second of each process tree (PostgreSQL with its backends); "bench" is the load generator; "machine" is every process on the box.');
}
