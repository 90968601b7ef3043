/**
 * How much the benchmark measures. `BENCH_QUICK=1` shrinks every count and
 * duration about 5× for a smoke run; its figures are too noisy to judge by.
 */
export const QUICK = process.env.BENCH_QUICK === '1';

const scaled = (full: number, least: number) => (QUICK ? Math.max(least, Math.round(full / 5)) : full);

export const PLAN = {
  /** refund_order's 202 vs a raw workflow start. */
  ack: { warmup: scaled(10, 3), samples: scaled(100, 20) },
  /** lookup_order end to end vs raw round trips and an in-process call. */
  lookup: { warmup: scaled(10, 3), samples: scaled(200, 40) },
  /** Closed-loop load: each client sends its next call when the previous one answers. */
  throughput: { clients: 32, durationMs: scaled(10_000, 2_000) },
  /** bench_progress calls, run one after another; each reports progress every `intervalMs` for `durationMs`. */
  progress: { calls: scaled(5, 2), durationMs: 3_000, intervalMs: 200 },
  /**
   * An HTTP tool and MCP tools (Streamable HTTP, stdio) end to end vs their services called directly, the raw round trip
   * and a TypeScript tool; sampling stops early once `maxMs` is spent (a loaded machine), with fewer samples.
   */
  toolSources: { warmup: scaled(10, 3), samples: scaled(200, 40), maxMs: 120_000 },
  /** Realtime: model's function call → client events, one session, refund and lookup alternating. */
  realtime: { warmup: scaled(10, 3), samples: scaled(100, 20) },
  /** Realtime load: sessions each asking for one lookup after another; the server's memory sampled throughout. */
  realtimeLoad: { sessions: QUICK ? 20 : 100, durationMs: scaled(60_000, 10_000), memoryEveryMs: 2_000 },
  /** Whole-run watchdog: a hang is a crash, not a long benchmark. */
  watchdogMs: 10 * 60_000,
} as const;

/** Short refund stages, so refunds started by the ack scenario finish quickly and do not load later scenarios. */
export const REFUND_TIMINGS = { stageMs: 50, progressEveryMs: 25 };

/** Generous limits, so the gateway's policy never throttles the benchmark. */
export const LIMITS = { tenantRatePerSec: 100_000, tenantBurst: 100_000, sessionMaxInFlight: 1_000 };
/** The per-tool in-flight bound (50 by default) lifted too: 100 realtime sessions would otherwise get half their lookups from the fallback. */
export const TOOL_MAX_IN_FLIGHT = 100_000;

export const TENANT = 'acme';
export const SCOPES = ['orders:read', 'orders:refund', 'orders:write', 'bench'];
