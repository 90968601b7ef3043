import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { ToolImplementation } from '../activities';
import type { ToolFallback } from '../contracts/tool-spec';
import { startScriptedModel } from '../scripted-model/server';
import type { ModelTarget } from '../session/upstream';
import { resolveTemporalCli } from '../temporal/cli-binary';
import { startDevServer, type DevServer } from '../temporal/dev-server';
import { searchAttributes } from '../workflows/messages';
import { loadConfig, type Config } from './config';
import { createLogger } from './logger';
import { openToolKit, type Role, type Tools } from './tool-kit';
import { openProgressChannel } from './progress-channels';
import { loadToolsFile, openToolsFile, type ToolsFile } from './tools-file';
import { createTokenVerifier, reloadKeysOnSighup } from './jwt-secret';
import { createHoldlineServer, type HoldlineServer } from './server';
import { connectNative, gatewayClient, installTemporalRuntime } from './temporal';
import { startTracing } from './tracing';
import { bundleToolWorkflows, createToolWorker, superviseWorker, type SupervisedWorker, type WorkerDeployment } from './worker';

export type { Role } from './tool-kit';

export interface HoldlineOptions {
  /** Tools written in TypeScript: `implementTool` results, or a factory that builds them at start. Default: none. */
  tools?: Tools;
  /**
   * A tools file (JSON or YAML): tools served by HTTP endpoints, MCP servers,
   * and which tenant may use which tool. Default: `HOLDLINE_TOOLS_FILE`, else none.
   */
  toolsFile?: string;
  /** Which parts run in this process: `all` (default), `server` (HTTP API and realtime sessions) or `worker`. */
  role?: Role;
  /** Where configuration is read from: the variables of the README's table. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Default: JSON lines on stdout at `LOG_LEVEL`. */
  logger?: Logger;
}

export interface RunningHoldline {
  apiUrl?: string;
  temporalAddress: string;
  temporalUiUrl?: string | null;
  /**
   * Whether Temporal answered at start. When it did not, every role runs
   * anyway: the server answers BACKEND_UNAVAILABLE and reports not ready, the
   * worker keeps trying to connect and polls once Temporal is there.
   */
  temporalReachable: boolean;
  /** The worker and its connection loop, in the `all` and `worker` roles. */
  worker?: SupervisedWorker;
  /** Which realtime model sessions talk to. */
  model?: string;
  /** The names of the tools this process serves. */
  tools: string[];
  /** Stops everything this process started, the dev server last. */
  stop(): Promise<void>;
}

export const SEARCH_ATTRIBUTE_NAMES = Object.values(searchAttributes).map((key) => key.name);

/**
 * Starts Holdline with the given tools. In the `all` role (the default) it
 * starts the embedded Temporal dev server when TEMPORAL_ADDRESS is unset,
 * then a worker and the HTTP server in this process; `server` and `worker`
 * run one half each, for a cluster. Configuration comes from the environment
 * (`options.env`); a bad value throws a `ConfigError` naming the variable.
 */
export async function startHoldline(options: HoldlineOptions = {}): Promise<RunningHoldline> {
  const env = options.env ?? process.env;
  const config = loadConfig(env);
  const role = options.role ?? 'all';
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, { role });
  const toolsFile = options.toolsFile ?? config.HOLDLINE_TOOLS_FILE;
  // Read before anything starts: a wrong file stops the start with every problem and its line.
  const file = toolsFile ? loadToolsFile(toolsFile) : undefined;
  return startParts({ role, config, env, logger, tools: options.tools, file });
}

interface Parts {
  role: Role;
  config: Config;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  tools: Tools | undefined;
  file: ToolsFile | undefined;
}

async function startParts({ role, config, env, logger, tools: toolsOption, file }: Parts): Promise<RunningHoldline> {
  const stack: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stack.reverse()) {
      await step().catch((error: unknown) => logger.error({ err: error }, 'error while stopping'));
    }
  };
  try {
    // The process stops its worker itself (stop()), so the SDK must not on a signal.
    const installRuntime = () => installTemporalRuntime(logger, 'WARN', { shutdownSignals: [] });
    installRuntime();
    // First in, last out: it flushes the spans of everything stopped before it.
    const tracing = startTracing(config, logger);
    if (tracing) stack.push(() => tracing.shutdown());
    const dataDir = resolve(config.HOLDLINE_DATA_DIR);
    let address = config.TEMPORAL_ADDRESS;
    let devServer: DevServer | undefined;
    if (!address) {
      if (role !== 'all') logger.warn('TEMPORAL_ADDRESS is unset: starting an embedded dev server for this process alone');
      devServer = await startEmbeddedTemporal(config, dataDir, logger);
      stack.push(() => devServer!.stop());
      address = devServer.address;
    }

    const kit = await openToolKit(toolsOption, { role, dataDir, env, logger });
    if (kit.close) stack.push(async () => kit.close!());
    const tools = kit.tools;
    const opened = file ? await openToolsFile(file, { env, logger }) : undefined;
    if (opened) stack.push(() => opened.close());
    const sources = opened?.sources ?? [];
    const toolNames = () => [...tools.map((tool) => tool.spec.name), ...sources.flatMap((source) => source.specs().map((spec) => spec.name))];
    if (toolNames().length === 0 && !sources.some((source) => source.unavailable().size > 0)) {
      logger.warn('no tools: pass tools (or --tools, --tools-file) to give the agent something to call');
    }
    if (opened?.tenantPolicy) logger.info({ tenants: Object.keys(file!.tenants!) }, 'tenant policy: each tenant may use the tools its entry names; a tenant not named gets the "*" entry, or no tool');
    const progress = openProgressChannel({ redisUrl: config.HOLDLINE_REDIS_URL, namespace: config.TEMPORAL_NAMESPACE, role, logger });
    if (progress) stack.push(() => progress.close());
    let worker: SupervisedWorker | undefined;
    let temporalReachable = true;
    if (role !== 'server') {
      const workflowBundle = await bundleToolWorkflows(logger, tracing);
      const workerAddress = address;
      worker = superviseWorker({
        address: workerAddress,
        logger: logger.child({ component: 'worker', task_queue: config.TEMPORAL_TASK_QUEUE, ...deploymentOf(config) }),
        connect: async () => {
          installRuntime();
          return connectNative(config, workerAddress);
        },
        create: (connection) =>
          createToolWorker({ connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, tools, sources, workflowBundle, tracing, heartbeatThrottleMs: config.HOLDLINE_HEARTBEAT_THROTTLE_MS, ...(progress ? { progress } : {}), ...deploymentOf(config) }),
      });
      stack.push(() => worker!.stop());
      temporalReachable = await worker.firstAttempt;
    }

    let server: HoldlineServer | undefined;
    let apiUrl: string | undefined;
    let modelUrl: string | undefined;
    if (role !== 'worker') {
      const model = await chooseModel(config, logger);
      if (model.stop) stack.push(model.stop);
      modelUrl = model.label;
      const { verifier, generated } = createTokenVerifier({ ...config, HOLDLINE_DATA_DIR: dataDir });
      if (generated) logger.info({ path: generated }, 'generated a development JWT secret');
      // A key file is read again on SIGHUP: keys rotate without a restart.
      if (config.HOLDLINE_JWT_KEYS && !config.HOLDLINE_JWT_KEYS.startsWith('[')) {
        const reloading = reloadKeysOnSighup(verifier, { ...config, HOLDLINE_DATA_DIR: dataDir }, logger);
        stack.push(async () => reloading.stop());
      }
      server = createHoldlineServer({
        client: gatewayClient(config, address, tracing),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        specs: tools.map((tool) => tool.spec),
        sources,
        ...(opened?.tenantPolicy ? { tenantPolicy: opened.tenantPolicy } : {}),
        verifier,
        logger,
        limits: {
          maxArgumentBytes: config.HOLDLINE_MAX_ARGUMENT_BYTES,
          sessionMaxInFlight: config.HOLDLINE_SESSION_MAX_IN_FLIGHT,
          tenantRatePerSec: config.HOLDLINE_TENANT_RATE_PER_SEC,
          tenantBurst: config.HOLDLINE_TENANT_BURST,
        },
        backendTimeoutMs: config.HOLDLINE_BACKEND_TIMEOUT_MS,
        executionMarginMs: config.HOLDLINE_EXECUTION_MARGIN_MS,
        // In the `all` role this process's worker must poll too, or calls would wait for nothing.
        ...(worker ? { readiness: { worker: () => worker!.state === 'polling' } } : {}),
        breakerCooldownMs: config.HOLDLINE_BREAKER_COOLDOWN_MS,
        toolBreakers: { threshold: config.HOLDLINE_TOOL_BREAKER_THRESHOLD, cooldownMs: config.HOLDLINE_TOOL_BREAKER_COOLDOWN_MS, maxInFlight: config.HOLDLINE_TOOL_MAX_IN_FLIGHT },
        ...(progress ? { progress } : {}),
        progressPollMs: config.HOLDLINE_PROGRESS_POLL_MS,
        production: config.NODE_ENV === 'production',
        temporalUiUrl: devServer?.uiUrl ?? null,
        ...(config.HOLDLINE_REDIS_URL ? { redisUrl: config.HOLDLINE_REDIS_URL } : {}),
        admission: {
          mode: config.HOLDLINE_ADMISSION,
          initialLimit: config.HOLDLINE_ADMISSION_INITIAL_LIMIT,
          minLimit: config.HOLDLINE_ADMISSION_MIN_LIMIT,
          maxLimit: config.HOLDLINE_ADMISSION_MAX_LIMIT,
          latencyTargetMs: config.HOLDLINE_ADMISSION_LATENCY_MS,
          holdMs: config.HOLDLINE_ADMISSION_HOLD_MS,
          pressedAckMs: config.HOLDLINE_ADMISSION_PRESSED_ACK_MS,
          queueLength: config.HOLDLINE_ADMISSION_QUEUE,
          queueMs: config.HOLDLINE_ADMISSION_QUEUE_MS,
        },
        fallbacks: fallbacksOf(tools),
        realtime: {
          model: model.target,
          spokenProgressEveryMs: config.HOLDLINE_SPOKEN_PROGRESS_MS,
          resumeWindowMs: config.HOLDLINE_RESUME_WINDOW_MS,
          maxFrameBytes: config.HOLDLINE_MAX_FRAME_BYTES,
          pingMs: config.HOLDLINE_WS_PING_MS,
          maxBufferedBytes: config.HOLDLINE_WS_MAX_BUFFERED_BYTES,
          maxSessionsPerUser: config.HOLDLINE_MAX_SESSIONS_PER_USER,
        },
      });
      apiUrl = await server.listen(config.PORT, config.HOST);
      stack.push(() => server!.close());
      if (!worker) temporalReachable = await server.gateway.calls.ping().then(() => true, () => false);
    }
    if (!temporalReachable) {
      logger.warn({ address }, server ? 'Temporal is not reachable yet: calls answer BACKEND_UNAVAILABLE until it is' : 'Temporal is not reachable yet: the worker keeps trying');
    }
    return {
      ...(apiUrl ? { apiUrl } : {}),
      ...(modelUrl ? { model: modelUrl } : {}),
      ...(worker ? { worker } : {}),
      temporalAddress: address,
      temporalUiUrl: devServer?.uiUrl,
      temporalReachable,
      tools: toolNames(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The realtime model: OpenAI's when OPENAI_API_KEY is set, else the one at
 * HOLDLINE_MODEL_URL, else a scripted model started in this process.
 */
async function chooseModel(config: Config, logger: Logger): Promise<{ target: ModelTarget; label: string; stop?: () => Promise<void> }> {
  const base = { openaiUrl: config.OPENAI_REALTIME_URL, openaiModel: config.OPENAI_REALTIME_MODEL };
  if (config.OPENAI_API_KEY) return { target: { ...base, openaiApiKey: config.OPENAI_API_KEY }, label: `OpenAI ${config.OPENAI_REALTIME_MODEL}` };
  if (config.HOLDLINE_MODEL_URL) return { target: { ...base, localUrl: config.HOLDLINE_MODEL_URL }, label: config.HOLDLINE_MODEL_URL };
  const scripted = await startScriptedModel({ speakMs: 300 });
  logger.info({ url: scripted.url }, 'no OPENAI_API_KEY: realtime sessions talk to the scripted model');
  return { target: { ...base, localUrl: scripted.url }, label: `scripted model (${scripted.url}); set OPENAI_API_KEY for OpenAI`, stop: () => scripted.close() };
}

async function startEmbeddedTemporal(config: Config, dataDir: string, logger: Logger): Promise<DevServer> {
  const cliPath = await resolveTemporalCli({
    ...(config.TEMPORAL_CLI ? { explicitPath: config.TEMPORAL_CLI } : {}),
    onProgress: (message) => logger.info(message),
  });
  logger.info({ cli: cliPath, port: config.TEMPORAL_DEV_PORT }, 'starting the Temporal dev server');
  const temporalLog = logger.child({ component: 'temporal-dev-server' });
  return startDevServer({
    cliPath,
    port: config.TEMPORAL_DEV_PORT,
    uiPort: config.TEMPORAL_UI_PORT,
    dbFile: join(dataDir, 'temporal', 'temporal.sqlite'),
    namespace: config.TEMPORAL_NAMESPACE,
    searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    onOutput: (line) => temporalLog.debug(line),
  });
}

/** The Worker Deployment version this worker runs as, when HOLDLINE_DEPLOYMENT_NAME and HOLDLINE_BUILD_ID say (loadConfig checks they come together). */
function deploymentOf(config: Config): { deployment?: WorkerDeployment } {
  const name = config.HOLDLINE_DEPLOYMENT_NAME;
  const buildId = config.HOLDLINE_BUILD_ID;
  return name && buildId ? { deployment: { name, buildId } } : {};
}

/** The fallbacks of the tools that declare one, by tool name. */
export function fallbacksOf(tools: readonly ToolImplementation[]): Record<string, ToolFallback> {
  return Object.fromEntries(tools.flatMap((tool) => (tool.fallback ? [[tool.spec.name, tool.fallback]] : [])));
}
