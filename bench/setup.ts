import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startScriptedModel } from '../src/scripted-model/server';
import { createSupportTools, OrderStore, supportTools } from '../examples/support-desk';
import { loadConfig, type Config } from '../src/runtime/config';
import { fallbacksOf, SEARCH_ATTRIBUTE_NAMES } from '../src/runtime/holdline';
import { createHoldlineServer } from '../src/runtime/server';
import { connectNative, gatewayClient, installTemporalRuntime } from '../src/runtime/temporal';
import { createToolWorker } from '../src/runtime/worker';
import { InProcessProgressChannel } from '../src/runtime/progress-channels';
import type { ProgressChannel } from '../src/contracts/progress-channel';
import { cliVersion, resolveTemporalCli } from '../src/temporal/cli-binary';
import { startDevServer } from '../src/temporal/dev-server';
import { LIMITS, REFUND_TIMINGS, SCOPES, TENANT, TOOL_MAX_IN_FLIGHT } from './config';
import { holdlineHttp, type HoldlineHttp } from './http';
import { freePort } from '../test/support/ports';
import { benchProgress, benchProgressTool } from './progress-tool';
import { startRawTemporal, type RawTemporal } from './raw-temporal';
import { benchLookup, startToolSourceFixture, type ToolSourceFixture } from './tool-sources';

/** Everything the scenarios run against, and how to take it all down. */
export interface BenchEnv {
  cliVersion: string;
  temporalAddress: string;
  /** The task queue of Holdline's tool worker. */
  taskQueue: string;
  apiUrl: string;
  /** A token for tenant acme with every scope the bench uses. */
  token: string;
  http: HoldlineHttp;
  store: OrderStore;
  raw: RawTemporal;
  /** The HTTP endpoint and MCP servers whose tools Holdline serves too, with direct clients of each. */
  toolSources: ToolSourceFixture;
  /** Stops everything started, in reverse order: server, workers, connections, dev server, temp dir. */
  stop(): Promise<void>;
}

type Step = () => Promise<void> | void;

/**
 * Starts what `startHoldline('all', …)` starts — a tuned embedded dev server,
 * a tool worker and the HTTP server in this process — plus the raw baseline on
 * the same dev server. Settings are Holdline's defaults except the policy
 * limits, which are lifted so policy never throttles the bench.
 */
export async function startBenchEnv(say: (line: string) => void): Promise<BenchEnv> {
  const steps: Step[] = [];
  // Once only: an interrupt and the failing scenario it causes may both ask to stop.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      for (const step of steps.reverse()) {
        try {
          await step();
        } catch (error) {
          process.stderr.write(`bench: error while stopping: ${String(error)}\n`);
        }
      }
    })());
  try {
    // Temporal's own logs would drown the report: errors only, before any worker or native connection exists.
    installTemporalRuntime(pino({ level: 'error' }), 'ERROR');
    // Defaults only (an empty environment), so a developer's shell variables do not change the figures.
    const config = loadConfig({});
    const dir = mkdtempSync(join(tmpdir(), 'holdline-bench-'));
    steps.push(() => rmSync(dir, { recursive: true, force: true }));

    const cliPath = await resolveTemporalCli(process.env.TEMPORAL_CLI ? { explicitPath: process.env.TEMPORAL_CLI } : {});
    say(`starting the Temporal dev server (${cliPath})`);
    const devServer = await startDevServer({
      cliPath,
      port: await freePort(),
      uiPort: null,
      // Its own directory: the SQLite file has -wal and -shm siblings, all removed with the temp dir.
      dbFile: join(dir, 'temporal', 'temporal.sqlite'),
      namespace: config.TEMPORAL_NAMESPACE,
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
    steps.push(() => devServer.stop());
    const address = devServer.address;

    const store = new OrderStore(join(dir, 'orders.sqlite'));
    steps.push(() => store.close());

    say('starting the bench HTTP endpoint and MCP servers (Streamable HTTP on loopback, stdio)');
    // Before the worker, which registers the sources' activities; stopped after it.
    const toolSources = await startToolSourceFixture();
    steps.push(() => toolSources.stop());

    // Worker and server share this process, as in the default run: progress is handed over in memory.
    const progress = new InProcessProgressChannel(pino({ level: 'silent' }));
    say('bundling workflows and starting both workers');
    // In parallel: each bundles its workflows with webpack, a few seconds of CPU apiece.
    const [tool, rawStarted] = await Promise.allSettled([
      startToolWorker(config, address, store, toolSources, progress, steps),
      startRawTemporal(address, config.TEMPORAL_NAMESPACE),
    ]);
    if (rawStarted.status === 'fulfilled') steps.push(() => rawStarted.value.stop());
    if (tool.status === 'rejected') throw tool.reason;
    if (rawStarted.status === 'rejected') throw rawStarted.reason;
    const raw = rawStarted.value;

    const { apiUrl, token } = await startServer(config, address, store, toolSources, progress, steps);
    return { cliVersion: cliVersion(cliPath), temporalAddress: address, taskQueue: config.TEMPORAL_TASK_QUEUE, apiUrl, token, http: holdlineHttp(apiUrl, token), store, raw, toolSources, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The worker as startHoldline builds it, with the bench tools and tool sources added. */
async function startToolWorker(config: Config, address: string, store: OrderStore, toolSources: ToolSourceFixture, progress: ProgressChannel, steps: Step[]): Promise<void> {
  const native = await connectNative(config, address);
  steps.push(() => native.close());
  const worker = await createToolWorker({
    connection: native,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    tools: [...createSupportTools({ store, refundTimings: REFUND_TIMINGS }), benchProgressTool(), toolSources.tool],
    sources: toolSources.sources,
    progress,
  });
  const running = worker.run();
  // A worker that dies mid-run shows up as calls that never finish; say why here.
  void running.catch((error: unknown) => process.stderr.write(`bench: the Holdline worker stopped: ${String(error)}\n`));
  steps.push(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  });
}

/** The HTTP server as startHoldline builds it, with a generated secret and lifted limits; returns its URL and a token. */
async function startServer(config: Config, address: string, store: OrderStore, toolSources: ToolSourceFixture, progress: ProgressChannel, steps: Step[]): Promise<{ apiUrl: string; token: string }> {
  const model = await startScriptedModel({ speakMs: 0 });
  steps.push(() => model.close());
  const server = createHoldlineServer({
    client: gatewayClient(config, address),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    specs: [...supportTools, benchProgress, benchLookup],
    sources: toolSources.sources,
    jwtSecret: randomBytes(32).toString('base64url'),
    logger: pino({ level: 'silent' }),
    limits: { maxArgumentBytes: config.HOLDLINE_MAX_ARGUMENT_BYTES, ...LIMITS },
    // Admission is policy too, lifted like the limits: a shed lookup answered from its fallback is no
    // Temporal round trip to compare with raw. `npm run load -- spike` measures admission itself.
    admission: { mode: 'off' },
    toolBreakers: { maxInFlight: TOOL_MAX_IN_FLIGHT },
    backendTimeoutMs: config.HOLDLINE_BACKEND_TIMEOUT_MS,
    breakerCooldownMs: config.HOLDLINE_BREAKER_COOLDOWN_MS,
    progress,
    progressPollMs: config.HOLDLINE_PROGRESS_POLL_MS,
    fallbacks: fallbacksOf(createSupportTools({ store })),
    realtime: {
      model: { openaiUrl: config.OPENAI_REALTIME_URL, openaiModel: config.OPENAI_REALTIME_MODEL, localUrl: model.url },
      spokenProgressEveryMs: config.HOLDLINE_SPOKEN_PROGRESS_MS,
      resumeWindowMs: config.HOLDLINE_RESUME_WINDOW_MS,
      maxFrameBytes: config.HOLDLINE_MAX_FRAME_BYTES,
    },
  });
  const apiUrl = await server.listen(0, '127.0.0.1');
  steps.push(() => server.close());
  const token = await server.verifier.issue({ tenantId: TENANT, userId: 'bench', scopes: SCOPES });
  return { apiUrl, token };
}
