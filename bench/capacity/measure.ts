import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection, WorkflowClient } from '@temporalio/client';
import { callersOf, createOrders, pool, runCall, type CallKind } from './calls';
import { historyCost } from './history';
import { coresBetween, cpuSnapshot } from './proc-cpu';
import { countersBetween, isPersistenceWrite, scrapeTemporal, total, type TemporalCounters } from './temporal-metrics';
import type { Target } from './targets';

export interface PerCall {
  kind: CallKind;
  calls: number;
  /** Frontend requests per call, all methods, and by method. */
  frontend: number;
  frontendByMethod: Record<string, number>;
  /** Requests inside Temporal (history and matching services) per call. */
  internal: number;
  persistenceWrites: number;
  persistenceReads: number;
  writesByOperation: Record<string, number>;
  readsByOperation: Record<string, number>;
  events: number;
  /** Actions by rule: from the history, plus heartbeats and queries from the frontend counter. */
  actions: Record<string, number>;
  actionsTotal: number;
  eventTypes: Record<string, number>;
  /** CPU milliseconds per call, by process tree, over the window less the idle rate. */
  cpuMs: Record<string, number>;
}

const IDLE_MS = 3_000;
/** Transfer, visibility and task-completion work trails a call's end by a little. */
const SETTLE_MS = 2_000;

/** Temporal's own background while nothing runs, to subtract from a window of calls. */
async function idleBackground(target: Target): Promise<{ counters: TemporalCounters; cores: Record<string, number>; ms: number }> {
  const before = await scrapeTemporal(target.metricsUrl);
  const cpu = cpuSnapshot(target.pids());
  const started = performance.now();
  await delay(IDLE_MS);
  const ms = performance.now() - started;
  const cores = coresBetween(cpu, cpuSnapshot(target.pids()), ms / 1_000);
  const after = await scrapeTemporal(target.metricsUrl);
  return { counters: countersBetween(before, after), cores, ms };
}

export async function measurePerCall(target: Target, kind: CallKind, calls: number, concurrency: number, runId: string): Promise<PerCall> {
  const callers = await callersOf(target);
  const orders = await createOrders(target.databaseUrl, `${kind === 'lookup' ? 'L' : kind === 'refund' ? 'R' : 'C'}${runId}`, kind === 'approval' ? calls : 1);
  const connection = await Connection.connect({ address: target.temporalAddress });
  try {
    // One call first, outside the window: connections, caches and the first workflow task of a fresh worker.
    await runCall(callers, kind, kind === 'approval' ? (await createOrders(target.databaseUrl, `W${runId}`, 1))[0]! : orders[0]!, `cap-${runId}-${kind}-warm`);
    await delay(SETTLE_MS);
    const idle = await idleBackground(target);
    const before = await scrapeTemporal(target.metricsUrl);
    const cpu0 = cpuSnapshot(target.pids());
    const started = performance.now();
    const ids = await pool(calls, concurrency, (i) => runCall(callers, kind, orders[kind === 'approval' ? i : 0]!, `cap-${runId}-${kind}-${i}`));
    await delay(SETTLE_MS);
    const windowS = (performance.now() - started) / 1_000;
    const cores = coresBetween(cpu0, cpuSnapshot(target.pids()), windowS);
    const cpuMs = Object.fromEntries(Object.entries(cores).map(([name, c]) => [name, (Math.max(0, c - (idle.cores[name] ?? 0)) * windowS * 1_000) / calls]));
    const after = await scrapeTemporal(target.metricsUrl);
    const delta = countersBetween(before, after, { counters: idle.counters, scale: (performance.now() - started) / idle.ms });

    const client = new WorkflowClient({ connection, namespace: target.namespace });
    const costs = await pool(ids.length, 8, (i) => historyCost(client, ids[i]!));
    const per = (n: number) => n / calls;
    const sumBy = (pick: (c: (typeof costs)[number]) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const cost of costs) for (const [key, n] of Object.entries(pick(cost))) out[key] = (out[key] ?? 0) + n / calls;
      return out;
    };
    const frontendByMethod = Object.fromEntries([...delta.requests].filter(([k]) => k.startsWith('frontend/')).map(([k, n]) => [k.slice('frontend/'.length), per(n)]));
    const actions = sumBy((c) => c.actions);
    const heartbeats = (frontendByMethod.RecordActivityTaskHeartbeat ?? 0) + (frontendByMethod.RecordActivityTaskHeartbeatById ?? 0);
    if (heartbeats > 0) actions['heartbeat (frontend counter)'] = heartbeats;
    if (frontendByMethod.QueryWorkflow) actions['query (frontend counter)'] = frontendByMethod.QueryWorkflow;
    return {
      kind,
      calls,
      frontend: per(total(delta.requests, (k) => k.startsWith('frontend/'))),
      frontendByMethod,
      internal: per(total(delta.requests, (k) => !k.startsWith('frontend/'))),
      persistenceWrites: per(total(delta.persistence, isPersistenceWrite)),
      persistenceReads: per(total(delta.persistence, (k) => !isPersistenceWrite(k))),
      writesByOperation: Object.fromEntries([...delta.persistence].filter(([k]) => isPersistenceWrite(k)).map(([k, n]) => [k, per(n)])),
      readsByOperation: Object.fromEntries([...delta.persistence].filter(([k]) => !isPersistenceWrite(k)).map(([k, n]) => [k, per(n)])),
      events: costs.reduce((s, c) => s + c.events, 0) / calls,
      actions,
      actionsTotal: Object.values(actions).reduce((s, n) => s + n, 0),
      eventTypes: sumBy((c) => c.eventTypes),
      cpuMs,
    };
  } finally {
    callers.close();
    await connection.close();
  }
}

export interface Throughput {
  clients: number;
  seconds: number;
  calls: number;
  errors: number;
  /** Error message (first words) → count. */
  errorKinds: Record<string, number>;
  callsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  /** Cores used on average, by process tree (bench = this load generator). */
  cores: Record<string, number>;
  machineCores: number;
  /** Frontend requests per second during the window. */
  frontendPerSecond: number;
}

/** Closed loop: `clients` callers each sending their next `kind` call when the last one ends, for `seconds`. */
export async function measureThroughput(target: Target, kind: CallKind, clients: number, seconds: number, runId: string): Promise<Throughput> {
  const callers = await callersOf(target);
  const [order] = await createOrders(target.databaseUrl, `T${runId}`, 1);
  let n = 0;
  const loop = async (until: number, record?: { latencies: number[]; errors: string[] }) =>
    pool(clients, clients, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await runCall(callers, kind, order!, `cap-${runId}-tp-${n++}`);
          record?.latencies.push(performance.now() - t);
        } catch (error) {
          record?.errors.push((error as Error).message.replace(/"trace_id":"[^"]*"|tool-req-\w+/g, '').slice(0, 90));
        }
      }
    });
  try {
    // Warm up the same way, so the measured window starts at the steady state.
    await loop(performance.now() + 3_000);
    const record = { latencies: [] as number[], errors: [] as string[] };
    const cpu0 = cpuSnapshot(target.pids());
    const machine0 = machineTicks();
    const counters0 = await scrapeTemporal(target.metricsUrl);
    const started = performance.now();
    await loop(started + seconds * 1_000, record);
    const wall = (performance.now() - started) / 1_000;
    const cores = coresBetween(cpu0, cpuSnapshot(target.pids()), wall);
    const machine1 = machineTicks();
    const counters = countersBetween(counters0, await scrapeTemporal(target.metricsUrl));
    const sorted = [...record.latencies].sort((a, b) => a - b);
    const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
    return {
      clients,
      seconds: wall,
      calls: sorted.length,
      errors: record.errors.length,
      errorKinds: record.errors.reduce<Record<string, number>>((kinds, e) => ({ ...kinds, [e]: (kinds[e] ?? 0) + 1 }), {}),
      callsPerSecond: sorted.length / wall,
      p50Ms: q(0.5),
      p95Ms: q(0.95),
      cores,
      machineCores: (machine1.busy - machine0.busy) / 100 / wall,
      frontendPerSecond: total(counters.requests, (k) => k.startsWith('frontend/')) / wall,
    };
  } finally {
    callers.close();
  }
}


/** Busy ticks of the whole machine (all cores), from /proc/stat. */
function machineTicks(): { busy: number } {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { busy: cpu.reduce((s, n) => s + n, 0) - idle };
}
