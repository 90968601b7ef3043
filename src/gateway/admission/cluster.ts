import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { DegradationMode } from './modes';

/** One server's admission state, as the others see it. */
export interface AdmissionReport {
  limit: number;
  in_flight: number;
  queue: number;
  mode: DegradationMode;
}

interface Stored extends AdmissionReport {
  /** The writer's wall clock (ms): servers are assumed NTP-synchronised to well within `staleMs`. */
  at: number;
}

export const ADMISSION_KEY = 'holdline:admission';

export interface ClusterAdmissionOptions {
  /** This process's report, read at every publish. */
  report: () => AdmissionReport;
  logger: Logger;
  /** Default: random. */
  serverId?: string;
  /** Default 1 s. */
  everyMs?: number;
  /** A report older than this is ignored (its server died or lost Redis). Default 3 s. */
  staleMs?: number;
  /** Longest one exchange with Redis may take before the cluster view is dropped. Default 250 ms. */
  timeoutMs?: number;
  now?: () => number;
}

/**
 * What the other servers' admission looks like, so one server under no load
 * of its own still degrades when the cluster sheds (the same callers are
 * likely to come to it next, and the shared Temporal is the same).
 *
 * Every `everyMs`, one pipelined exchange writes this server's report into a
 * Redis hash (field = server id, the hash expiring if every server stops) and
 * reads everyone's. Admission never waits on it: a call reads only the last
 * view kept in memory. An exchange that fails or takes longer than
 * `timeoutMs` drops the view, so while Redis is out each server decides from
 * its own state alone, and says so once.
 */
export class ClusterAdmission {
  private peers: Array<AdmissionReport & { server: string }> = [];
  private timer: NodeJS.Timeout | undefined;
  private exchanging = false;
  private down = false;
  readonly serverId: string;
  private readonly everyMs: number;
  private readonly staleMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly options: ClusterAdmissionOptions,
  ) {
    this.serverId = options.serverId ?? randomBytes(6).toString('hex');
    this.everyMs = options.everyMs ?? 1_000;
    this.staleMs = options.staleMs ?? 3_000;
    this.timeoutMs = options.timeoutMs ?? 250;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.exchange(), this.everyMs);
    this.timer.unref();
    void this.exchange();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.peers = [];
  }

  /** The fresh reports of the other servers. */
  others(): ReadonlyArray<AdmissionReport & { server: string }> {
    return this.peers;
  }

  /** The least mode this server should be in because of the others: `degraded` while any of them sheds. */
  floor(): DegradationMode {
    return this.peers.some((peer) => peer.mode === 'shedding') ? 'degraded' : 'normal';
  }

  /** One write-and-read; public so tests need not wait for the timer. */
  async exchange(): Promise<void> {
    if (this.exchanging) return;
    this.exchanging = true;
    const stored: Stored = { ...this.options.report(), at: this.now() };
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = this.redis
        .multi()
        .hset(ADMISSION_KEY, this.serverId, JSON.stringify(stored))
        .pexpire(ADMISSION_KEY, this.staleMs * 10)
        .hgetall(ADMISSION_KEY)
        .exec();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis gave no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      const results = await Promise.race([reply, timeout]);
      const all = results?.[2]?.[1] as Record<string, string> | undefined;
      if (!all) throw results?.[2]?.[0] ?? new Error('no reply');
      this.read(all);
      if (this.down) this.options.logger.info('Redis answers again: admission sees the other servers again');
      this.down = false;
    } catch (error) {
      this.peers = [];
      if (!this.down) this.options.logger.warn({ err: error }, 'Redis does not answer: admission decides from this server alone until it does');
      this.down = true;
    } finally {
      clearTimeout(timer);
      this.exchanging = false;
    }
  }

  private read(all: Record<string, string>): void {
    const now = this.now();
    const peers: Array<AdmissionReport & { server: string }> = [];
    const gone: string[] = [];
    for (const [server, text] of Object.entries(all)) {
      if (server === this.serverId) continue;
      let report: Stored;
      try {
        report = JSON.parse(text) as Stored;
      } catch {
        gone.push(server);
        continue;
      }
      const age = now - report.at;
      if (age > this.staleMs * 10) gone.push(server);
      if (age > this.staleMs) continue;
      peers.push({ server, limit: report.limit, in_flight: report.in_flight, queue: report.queue, mode: report.mode });
    }
    this.peers = peers;
    // Servers long gone leave no field behind; fire and forget, the next exchange retries.
    if (gone.length) this.redis.hdel(ADMISSION_KEY, ...gone).catch(() => undefined);
  }
}
