import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startLocalRedis } from '../../src/cluster/redis-server';
import { TokenVerifier } from '../../src/gateway';
import { loadConfig } from '../../src/runtime/config';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { startScriptedModel } from '../../src/scripted-model/server';
import { cliVersion, resolveTemporalCli } from '../../src/temporal/cli-binary';
import { startDevServer } from '../../src/temporal/dev-server';
import { freePort } from '../../test/support/ports';
import { QUICK } from '../config';
import { holdlineHttp } from '../http';
import { runPhase, type PhasePlan, type PhaseResult } from './load';
import { startServerProcess, startWorkerProcess, type HoldlineServerProcess, type ProcessEnv } from './processes';

/**
 * The cost of watching: `calls` long calls, first unwatched, then each with a
 * reader (SSE, or the realtime session that started it), progress pushed
 * through Redis from a worker process to a server process; then the same with
 * a server that has no channel and polls Temporal instead.
 */
const CALLS = Number(process.env.BENCH_WATCHED_CALLS ?? (QUICK ? 100 : 500));
export const WATCHED_PLAN: PhasePlan = {
  calls: CALLS,
  // A fifth inside realtime sessions: 100 of 500, as the target is stated.
  realtime: Math.round(CALLS / 5),
  // Calls run until cancelled after the window; the cap only ends them if the bench dies.
  durationMs: 300_000,
  ...(QUICK ? { windowMs: 10_000, settleMs: 2_000 } : { windowMs: 20_000, settleMs: 3_000 }),
  intervalMs: 1_500,
  concurrency: 10,
};

/** One worker runs at most this many activities at once (the SDK's default). */
const ACTIVITIES_PER_WORKER = 100;

export interface WatchedResults {
  plan: PhasePlan;
  cliVersion: string;
  workers: number;
  loadBefore: number[];
  loadAfter: number[];
  unwatched: PhaseResult;
  pushed: PhaseResult;
  /** The server without a channel: it reads each watched call from Temporal every HOLDLINE_PROGRESS_POLL_MS. */
  polled?: PhaseResult;
}

type Step = () => Promise<void> | void;

/** `onStop` receives the way to stop what was started, for an interrupt. */
export async function runWatchedBench(say: (line: string) => void, options: { polled: boolean; onStop?: (stop: () => Promise<void>) => void }): Promise<WatchedResults> {
  const plan = WATCHED_PLAN;
  const steps: Step[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const step of steps.reverse()) await Promise.resolve(step()).catch((error: unknown) => process.stderr.write(`bench: error while stopping: ${String(error)}\n`));
    })());
  options.onStop?.(stopAll);
  const loadBefore = loadavg();
  try {
    const config = loadConfig({});
    const dir = mkdtempSync(join(tmpdir(), 'holdline-bench-watched-'));
    steps.push(() => rmSync(dir, { recursive: true, force: true }));
    const cliPath = await resolveTemporalCli(process.env.TEMPORAL_CLI ? { explicitPath: process.env.TEMPORAL_CLI } : {});
    say(`watched: starting the Temporal dev server and redis-server`);
    const devServer = await startDevServer({
      cliPath,
      port: await freePort(),
      uiPort: null,
      dbFile: join(dir, 'temporal', 'temporal.sqlite'),
      namespace: config.TEMPORAL_NAMESPACE,
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
    steps.push(() => devServer.stop());
    const redis = await startLocalRedis({ port: await freePort(), dir: join(dir, 'redis') });
    steps.push(() => redis.stop());
    const model = await startScriptedModel({ speakMs: 0 });
    steps.push(() => model.close());

    const shared: ProcessEnv = { temporalAddress: devServer.address, taskQueue: config.TEMPORAL_TASK_QUEUE, redisUrl: redis.url };
    const workers = Math.ceil(plan.calls / ACTIVITIES_PER_WORKER);
    say(`watched: starting a worker process (${workers} workers, progress to Redis) and a server process (progress from Redis)`);
    const worker = await startWorkerProcess(shared, workers);
    steps.push(() => worker.stop());
    const secret = randomBytes(32).toString('base64url');
    const verifier = new TokenVerifier(secret);
    const token = await verifier.issue({ tenantId: 'acme', userId: 'bench', scopes: ['bench'] });
    const realtimeToken = await verifier.issue({ tenantId: 'acme', userId: 'bench-rt', scopes: ['bench'] });

    let server: HoldlineServerProcess | undefined = await startServerProcess(shared, { jwtSecret: secret, modelUrl: model.url });
    steps.push(() => server?.stop());
    const target = (s: HoldlineServerProcess) => ({
      http: holdlineHttp(s.url, token),
      url: s.url,
      token,
      realtimeToken,
      pids: { temporal: devServer.pid, server: s.pid, worker: worker.pid, redis: redis.pid },
    });
    const phase = async (label: string, s: HoldlineServerProcess, watched: boolean) => {
      say(`watched: ${label}`);
      const t = target(s);
      try {
        return await runPhase(t, plan, watched, say);
      } finally {
        t.http.close();
        // Let completions, closing streams and Temporal's own bookkeeping settle before the next phase.
        await delay(3_000);
      }
    };
    const readers = `${plan.calls - plan.realtime} SSE readers + ${plan.realtime} realtime sessions`;
    const calls = `${plan.calls} long calls, progress every ${plan.intervalMs / 1000} s`;
    const unwatched = await phase(`A: ${calls}, unwatched`, server, false);
    const pushed = await phase(`B: ${calls}, ${readers}, progress pushed through Redis`, server, true);
    let polled: PhaseResult | undefined;
    if (options.polled) {
      await server.stop();
      server = undefined;
      const { redisUrl: _pushed, ...noChannel } = shared;
      const pollingServer = await startServerProcess(noChannel, { jwtSecret: secret, modelUrl: model.url });
      server = pollingServer;
      polled = await phase(`C: ${calls}, ${readers}, server without a channel (polls Temporal)`, pollingServer, true);
    }
    return { plan, cliVersion: cliVersion(cliPath), workers, loadBefore, loadAfter: loadavg(), unwatched, pushed, ...(polled ? { polled } : {}) };
  } finally {
    say('watched: cleaning up');
    await stopAll();
  }
}
