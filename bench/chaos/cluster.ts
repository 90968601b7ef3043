import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { OrderStore } from '../../examples/support-desk';
import { TokenVerifier } from '../../src/gateway';
import { startScriptedModel, type ScriptedModel } from '../../src/scripted-model/server';
import { resolveTemporalCli } from '../../src/temporal/cli-binary';
import { freePort } from '../../test/support/ports';
import { holdlineHttp, type HoldlineHttp } from '../http';
import { FaultSwitch } from './faults';
import { Ledger } from './ledger';
import { NodeProcess } from './node-process';
import { RestartableTemporal } from './temporal';

/**
 * Holdline as separate real processes on loopback: a Temporal dev server, a
 * tool worker and a server (`npm run server`, with a memory probe), plus the
 * scripted model here. Each can be SIGKILLed and started again.
 */
export interface ClusterOptions {
  /** Refund stage length in the worker (verify; payment 1.5×, record 0.5×). Default 200 ms. */
  refundStageMs?: number;
  /** Progress interval of refunds. Default 50 ms. */
  progressEveryMs?: number;
  /** Extra environment for the server process (limits, say). Default: none, so Holdline's defaults apply. */
  serverEnv?: Record<string, string>;
  /** A Temporal CLI binary; default: the cached one (downloaded on first use). */
  cliPath?: string;
  /** A prebuilt workflow bundle; default: bundled once here. */
  workflowBundlePath?: string;
  say?: (line: string) => void;
}

export const TENANT = 'acme';
export const SCOPES = ['orders:read', 'orders:refund', 'orders:write'];

export interface Cluster {
  apiUrl: string;
  /** The worker's refund stage length. */
  refundStageMs: number;
  temporal: RestartableTemporal;
  worker: NodeProcess;
  server: NodeProcess;
  model: ScriptedModel;
  store: OrderStore;
  ledger: Ledger;
  faults: FaultSwitch;
  /** A token of tenant acme for `user`, with the order scopes. */
  token(user: string): Promise<string>;
  /** An HTTP client acting as `user`; closed with the cluster. */
  http(user: string, options?: { maxSockets?: number }): Promise<HoldlineHttp>;
  /** Starts again whatever is down and clears faults; returns what it found down. */
  ensureUp(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const say = options.say ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'holdline-chaos-'));
  const cleanup: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of cleanup.reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`chaos: error while stopping: ${String(error)}\n`);
      }
    }
    cleanup.length = 0;
  };
  try {
    const cliPath = options.cliPath ?? (await resolveTemporalCli(process.env.TEMPORAL_CLI ? { explicitPath: process.env.TEMPORAL_CLI } : {}));
    const temporal = new RestartableTemporal(cliPath, await freePort(), join(dir, 'temporal'));
    say(`starting the Temporal dev server on ${temporal.address}`);
    await temporal.start();
    cleanup.push(() => temporal.stop());

    const bundlePath = options.workflowBundlePath ?? (await bundleOnce(dir, say));
    const storePath = join(dir, 'orders.sqlite');
    const store = new OrderStore(storePath);
    cleanup.push(() => store.close());
    const ledger = new Ledger(storePath);
    cleanup.push(() => ledger.close());
    const faults = new FaultSwitch(join(dir, 'provider-fault'));
    const model = await startScriptedModel({ speakMs: 0 });
    cleanup.push(() => model.close());

    const refundStageMs = options.refundStageMs ?? 200;
    const secret = randomBytes(32).toString('base64url');
    const base = { ...process.env, NODE_ENV: 'production', HOLDLINE_JWT_SECRET: secret, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: 'chaos-tools', LOG_LEVEL: 'error', OPENAI_API_KEY: '' };
    const worker = new NodeProcess({
      name: 'worker',
      script: join(__dirname, 'worker-process.ts'),
      nodeFlags: ['--expose-gc'],
      env: {
        ...base,
        CHAOS_STORE_PATH: storePath,
        CHAOS_FAULT_FILE: faults.path,
        CHAOS_WORKFLOW_BUNDLE: bundlePath,
        CHAOS_REFUND_STAGE_MS: String(refundStageMs),
        CHAOS_PROGRESS_MS: String(options.progressEveryMs ?? 50),
      },
      ready: (p) => printed(p, 'worker ready', 60_000),
    });
    say('starting the worker process');
    await worker.start();
    cleanup.push(() => worker.stop());

    const port = await freePort();
    const apiUrl = `http://127.0.0.1:${port}`;
    const server = new NodeProcess({
      name: 'server',
      script: join(__dirname, '..', 'session-server-process.ts'),
      nodeFlags: ['--expose-gc'],
      env: { ...base, ...options.serverEnv, PORT: String(port), HOST: '127.0.0.1', HOLDLINE_MODEL_URL: model.url, HOLDLINE_DATA_DIR: join(dir, 'server') },
      ready: () => answers(`${apiUrl}/healthz`, 60_000),
    });
    say(`starting the server process on ${apiUrl}`);
    await server.start();
    cleanup.push(() => server.stop());

    const verifier = new TokenVerifier(secret);
    const token = (user: string) => verifier.issue({ tenantId: TENANT, userId: user, scopes: SCOPES });
    const clients: HoldlineHttp[] = [];
    cleanup.push(() => clients.forEach((c) => c.close()));

    return {
      apiUrl,
      refundStageMs,
      temporal,
      worker,
      server,
      model,
      store,
      ledger,
      faults,
      token,
      http: async (user, o = {}) => {
        const client = holdlineHttp(apiUrl, await token(user), o);
        clients.push(client);
        return client;
      },
      ensureUp: async () => {
        faults.clear();
        const found: string[] = [];
        if (!temporal.alive) {
          found.push('Temporal was down');
          await temporal.start();
        }
        for (const p of [worker, server]) {
          if (p.alive) continue;
          found.push(p.unexpectedExit ?? `${p.name} was down`);
          await p.start();
        }
        return found;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Bundles the workflows once, so each worker (re)start loads a file instead of running webpack. */
async function bundleOnce(dir: string, say: (line: string) => void): Promise<string> {
  say('bundling the workflows');
  const noop = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => process.stderr.write(`${m}\n`) },
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

function printed(p: NodeProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.stdoutListeners.delete(listener);
      reject(new Error(`${p.name} did not print "${text}" within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (line: string) => {
      if (!line.includes(text)) return;
      clearTimeout(timer);
      p.stdoutListeners.delete(listener);
      resolve();
    };
    p.stdoutListeners.add(listener);
  });
}

/** Polls `url` until it answers 200. */
export async function answers(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await delay(50);
  }
}
