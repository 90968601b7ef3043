import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { TENANT, type Cluster } from '../chaos/cluster';
import { httpCall, SpikeHttp, SpikeSession, type SpikeKind, type SpikeSample } from './spike-calls';

/**
 * The spike's mix, one arrival after another: lookups mostly (half over HTTP,
 * a quarter said to realtime sessions), refunds read over SSE, cancellations
 * of orders approved over POST approval, and refunds cancelled over POST cancel.
 */
const MIX: readonly SpikeKind[] = [
  'lookup', 'realtime_lookup', 'lookup', 'refund_sse', 'lookup',
  'realtime_lookup', 'lookup', 'cancel_order_approved', 'lookup', 'realtime_lookup',
  'lookup', 'refund_sse', 'lookup', 'realtime_lookup', 'lookup',
  'cancel_order_approved', 'lookup', 'realtime_lookup', 'lookup', 'refund_cancelled',
];

/** Seeded orders, in the worker's store and in the server's own (its fallback for lookup_order reads that one). */
const SEEDED_ORDERS = ['A-1001', 'A-1002', 'A-1003', 'A-1004', 'A-1005'];
const BIG_ORDER_CENTS = 1_000_000_000;

/** The callers of one Holdline: HTTP clients (one user each) and open realtime sessions (one user each). */
export class Callers {
  private constructor(
    private readonly cluster: Cluster,
    private readonly clients: SpikeHttp[],
    private readonly refundOrders: string[],
    readonly sessions: SpikeSession[],
    private readonly byUser: Map<string, SpikeHttp>,
  ) {}

  static async open(cluster: Cluster, plan: { clients: number; sessions: number; runId: string }): Promise<Callers> {
    const byUser = new Map<string, SpikeHttp>();
    const clients = await Promise.all(
      Array.from({ length: plan.clients }, async (_, i) => {
        const user = `spike-http-${plan.runId}-${i}`;
        const client = new SpikeHttp(cluster.apiUrl, user, await cluster.token(user));
        byUser.set(user, client);
        return client;
      }),
    );
    const refundOrders = clients.map(() => cluster.ledger.newOrder(TENANT, BIG_ORDER_CENTS));
    const sessions: SpikeSession[] = [];
    // A few at a time: a burst of upgrades would be a spike of its own.
    for (let i = 0; i < plan.sessions; i += 8) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(8, plan.sessions - i) }, async (_, j) => {
          const user = `spike-rt-${plan.runId}-${i + j}`;
          const token = await cluster.token(user);
          byUser.set(user, new SpikeHttp(cluster.apiUrl, user, token));
          return SpikeSession.open(cluster.apiUrl, token, user);
        }),
      );
      sessions.push(...opened);
    }
    return new Callers(cluster, clients, refundOrders, sessions, byUser);
  }

  /** Sends arrival `index` (its kind from the mix) and resolves when it and its follow-ups have ended. */
  async send(index: number, key: string): Promise<Omit<SpikeSample, 'dueMs' | 'lateMs'>> {
    const kind = MIX[index % MIX.length]!;
    const lookupOrder = SEEDED_ORDERS[index % SEEDED_ORDERS.length]!;
    if (kind === 'realtime_lookup') {
      const free = this.sessions.find((s) => !s.busy);
      if (!free) return { kind, admission: 'skipped', followUpRefusals: [], note: 'no realtime session free' };
      return free.lookup(lookupOrder);
    }
    const c = index % this.clients.length;
    const order = kind === 'lookup' ? lookupOrder : kind === 'cancel_order_approved' ? this.cluster.ledger.newOrder(TENANT, 1_000, 'placed') : this.refundOrders[c]!;
    return httpCall(this.clients[c]!, kind, order, key);
  }

  /**
   * Asks for the final envelope of every admitted call by GET ?wait=, as its
   * caller may: returns the admitted calls without one (lost).
   */
  async lost(samples: readonly SpikeSample[]): Promise<SpikeSample[]> {
    const admitted = samples.filter((s) => s.admission === 'admitted');
    const missing: SpikeSample[] = [];
    let next = 0;
    const checker = async () => {
      for (let i = next++; i < admitted.length; i = next++) {
        const sample = admitted[i]!;
        const client = sample.owner ? this.byUser.get(sample.owner.user) : undefined;
        if (!client || !sample.owner) {
          missing.push(sample);
          continue;
        }
        const answer = await client.result(sample.owner.callId, 30_000).catch(() => undefined);
        const status = answer?.body?.status;
        if (answer?.status !== 200 || (status !== 'ok' && status !== 'error')) missing.push(sample);
      }
    };
    await Promise.all(Array.from({ length: 16 }, checker));
    return missing;
  }

  close(): void {
    for (const session of this.sessions) session.close();
    for (const client of this.byUser.values()) client.close();
  }
}

export interface Segment {
  rate: number;
  durationMs: number;
}

export interface PhaseResult {
  segments: Segment[];
  /** Samples in arrival order, with the segment each arrived in. */
  samples: (SpikeSample & { segment: number })[];
  /** From the first arrival until the last call (and its follow-ups) ended. */
  elapsedMs: number;
  /** Length of the arrivals. */
  arrivalsMs: number;
}

/**
 * Open loop over consecutive segments: each one's arrivals evenly spaced at
 * its rate, sent when due whether or not earlier calls have answered (a late
 * timer sends what is due at once rather than shifting the schedule; how late
 * is recorded per call).
 */
export async function runSegments(callers: Callers, segments: Segment[], keyPrefix: string, onSecond?: (elapsedMs: number) => void): Promise<PhaseResult> {
  const due: { atMs: number; segment: number }[] = [];
  let offset = 0;
  segments.forEach((segment, s) => {
    const n = Math.max(1, Math.round((segment.rate * segment.durationMs) / 1000));
    for (let i = 0; i < n; i++) due.push({ atMs: offset + (i * 1000) / segment.rate, segment: s });
    offset += segment.durationMs;
  });
  const samples: PhaseResult['samples'] = [];
  const running: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  let nextSecond = 1_000;
  while (sent < due.length) {
    const now = performance.now() - started;
    while (sent < due.length && due[sent]!.atMs <= now) {
      const index = sent++;
      const { atMs, segment } = due[index]!;
      const lateMs = performance.now() - started - atMs;
      running.push(callers.send(index, `${keyPrefix}-${index}`).then((s) => void samples.push({ ...s, dueMs: atMs, lateMs, segment })));
    }
    if (onSecond && now >= nextSecond) {
      nextSecond += 1_000;
      onSecond(now);
    }
    await delay(Math.max(0, Math.min(started + due[Math.min(sent, due.length - 1)]!.atMs - performance.now(), 20)));
  }
  await Promise.all(running);
  samples.sort((a, b) => a.dueMs - b.dueMs);
  return { segments, samples, elapsedMs: performance.now() - started, arrivalsMs: offset };
}
