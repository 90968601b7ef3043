import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { createSupportTools, OrderStore, type SupportStore } from '../../examples/support-desk';
import type { ToolImplementation } from '../../src/activities';
import type { ToolSource } from '../../src/contracts/tool-source';
import type { RefundTimings } from '../../examples/support-desk/refund-order';
import type { GatewayLimits } from '../../src/gateway/gateway';
import type { AdmissionSettings } from '../../src/gateway/admission';
import type { ToolBreakerSettings } from '../../src/gateway/tool-breakers';
import { TenantPolicy, type TenantsConfig, type TokenVerifier } from '../../src/gateway';
import { fallbacksOf } from '../../src/runtime/holdline';
import { createHoldlineServer, type HoldlineServer } from '../../src/runtime/server';
import { gatewayClient, installTemporalRuntime } from '../../src/runtime/temporal';
import { createToolWorker } from '../../src/runtime/worker';
import { openProgressChannel } from '../../src/runtime/progress-channels';
import { startScriptedModel, type ScriptedModel } from '../../src/scripted-model/server';
import { createTestTools, TEST_SCOPES, type ToolProbe } from './test-tools';

export interface HarnessOptions {
  /** Default: the suite's dev server. */
  temporalAddress?: string;
  /** Where the gateway's client reaches Temporal (a fault proxy, say); default: `temporalAddress`. */
  gatewayAddress?: string;
  refundTimings?: Partial<RefundTimings>;
  limits?: Partial<GatewayLimits>;
  /** Run no worker in this process (a test starts its own elsewhere). */
  withoutWorker?: boolean;
  /** Share another harness's task queue (and so its worker). Default: a fresh one. */
  taskQueue?: string;
  backendTimeoutMs?: number;
  /** Margin of each call's workflow execution timeout beyond its budget. */
  executionMarginMs?: number;
  breakerCooldownMs?: number;
  /** Per-tool breakers; default as in production. */
  toolBreakers?: ToolBreakerSettings;
  /** How often the server reads the task queue's pollers. Default 15 s. */
  pollersEveryMs?: number;
  /** Delay of each call of the support-desk store by its tools (not their fallback), read at each call. Default none. */
  storeDelayMs?: () => number;
  spokenProgressEveryMs?: number;
  resumeWindowMs?: number;
  /** How long the scripted model takes to say an answer. */
  speakMs?: number;
  repeatFunctionCalls?: boolean;
  /** Realtime connection settings; defaults as in production, the cap lifted to 50. */
  pingMs?: number;
  maxBufferedBytes?: number;
  maxSessionsPerUser?: number;
  /** How long the scripted model holds each handshake. */
  modelHandshakeDelayMs?: number;
  /** False plays a model whose connection went half-open (it never answers pings). */
  modelAnswersPings?: boolean;
  /** More tools, besides the support-desk and test tools. */
  tools?: readonly ToolImplementation[];
  /** Tool sources (HTTP endpoints, MCP servers) the worker and gateway serve too. */
  sources?: readonly ToolSource[];
  /** A tenant policy, as the tools file's `tenants` section states it. Default: none (every tenant, every tool). */
  tenants?: TenantsConfig;
  /** Serve as in production (no `POST /dev/token`). Default: as NODE_ENV says (test). */
  production?: boolean;
  /** The Temporal UI address the server reports. Default: none. */
  temporalUiUrl?: string;
  /** Redis shared with other harnesses (progress, cluster-wide limits). Default: none. */
  redisUrl?: string;
  /** Verifies tokens (several keys, a JWKS); `token()` signs with its signing key. Default: one from JWT_SECRET. */
  verifier?: TokenVerifier;
  /** The store the support-desk tools use (a PostgresOrderStore, say); the caller closes it. Default: `store`, SQLite in the harness's directory. */
  supportStore?: SupportStore;
  /** Admission of new calls. Default: off, every call admitted at once (tests that want shedding say so). */
  admission?: AdmissionSettings;
}

export interface Harness {
  url: string;
  store: OrderStore;
  storePath: string;
  taskQueue: string;
  server: HoldlineServer;
  worker?: Worker;
  model: ScriptedModel;
  probe: ToolProbe;
  /** Every JSON log line the gateway wrote. */
  logs: Record<string, unknown>[];
  token(options?: { tenant?: string; user?: string; scopes?: string[]; ttlSeconds?: number }): Promise<string>;
  /** POST /v1/tool-calls as an acme user with every scope, unless told otherwise. */
  call(tool: string, args: unknown, options?: { key?: string; token?: string; session?: string }): Promise<HttpAnswer>;
  get(path: string, token?: string): Promise<HttpAnswer>;
  post(path: string, body: unknown, token?: string): Promise<HttpAnswer>;
  stop(): Promise<void>;
}

export interface HttpAnswer {
  status: number;
  body: any;
  headers: Headers;
}

export const JWT_SECRET = 'test-secret-test-secret-test-secret-0123';

/** A real worker and a real HTTP server on the suite's Temporal, with a store and a task queue of their own. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: process.env.HOLDLINE_TEST_LOG ?? 'info' }, sink);
  installTemporalRuntime(pino({ level: 'error' }), 'ERROR');

  const dir = mkdtempSync(join(tmpdir(), 'holdline-harness-'));
  const storePath = join(dir, 'orders.sqlite');
  const store = new OrderStore(storePath);
  const probe: ToolProbe = { stopped: new Set(), attempts: new Map() };
  const tools: ToolImplementation[] = [
    ...createSupportTools({
      store: options.supportStore ?? store,
      refundTimings: { stageMs: 300, progressEveryMs: 100, ...options.refundTimings },
      ...(options.storeDelayMs ? { storeDelayMs: options.storeDelayMs } : {}),
    }),
    ...createTestTools(probe),
    ...(options.tools ?? []),
  ];
  const sources = options.sources ?? [];
  const taskQueue = options.taskQueue ?? `test-${randomUUID()}`;
  const address = options.temporalAddress ?? process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!;
  const connection = await NativeConnection.connect({ address });

  // As in production: Redis when shared, memory when worker and server are this one harness,
  // and none (the server reads watched calls from Temporal) for a server without a worker.
  const progress = openProgressChannel({ redisUrl: options.redisUrl, namespace: 'default', role: options.withoutWorker ? 'server' : 'all', logger });
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  if (!options.withoutWorker) {
    worker = await createToolWorker({
      connection,
      namespace: 'default',
      taskQueue,
      tools,
      sources,
      workflowBundle: { codePath: process.env.HOLDLINE_TEST_WORKFLOW_BUNDLE! },
      ...(progress ? { progress } : {}),
    });
    running = worker.run();
  }

  const model = await startScriptedModel({
    speakMs: options.speakMs ?? 50,
    ...(options.repeatFunctionCalls ? { repeatFunctionCalls: true } : {}),
    ...(options.modelHandshakeDelayMs ? { handshakeDelayMs: options.modelHandshakeDelayMs } : {}),
    ...(options.modelAnswersPings === false ? { answerPings: false } : {}),
  });
  const server = createHoldlineServer({
    client: gatewayClient({ TEMPORAL_NAMESPACE: 'default' }, options.gatewayAddress ?? address),
    taskQueue,
    specs: tools.map((tool) => tool.spec),
    sources,
    jwtSecret: JWT_SECRET,
    ...(options.verifier ? { verifier: options.verifier } : {}),
    logger,
    limits: { maxArgumentBytes: 4_096, sessionMaxInFlight: 50, tenantRatePerSec: 1_000, tenantBurst: 1_000, ...options.limits },
    backendTimeoutMs: options.backendTimeoutMs ?? 1_000,
    ...(options.executionMarginMs !== undefined ? { executionMarginMs: options.executionMarginMs } : {}),
    breakerCooldownMs: options.breakerCooldownMs ?? 500,
    ...(options.toolBreakers ? { toolBreakers: options.toolBreakers } : {}),
    ...(options.pollersEveryMs ? { pollersEveryMs: options.pollersEveryMs } : {}),
    ...(progress ? { progress } : {}),
    progressPollMs: 50,
    fallbacks: fallbacksOf(tools),
    ...(options.tenants ? { tenantPolicy: new TenantPolicy(options.tenants) } : {}),
    processMetrics: false,
    ...(options.production !== undefined ? { production: options.production } : {}),
    ...(options.temporalUiUrl ? { temporalUiUrl: options.temporalUiUrl } : {}),
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    admission: options.admission ?? { mode: 'off' },
    realtime: {
      model: { openaiUrl: 'wss://unused.invalid/v1/realtime', openaiModel: 'scripted', localUrl: model.url },
      spokenProgressEveryMs: options.spokenProgressEveryMs ?? 8_000,
      resumeWindowMs: options.resumeWindowMs ?? 60_000,
      maxFrameBytes: 64 * 1024,
      pingMs: options.pingMs ?? 15_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 4 * 1024 * 1024,
      maxSessionsPerUser: options.maxSessionsPerUser ?? 50,
    },
  });
  const url = await server.listen(0, '127.0.0.1');

  const token: Harness['token'] = (o = {}) =>
    server.verifier.issue({ tenantId: o.tenant ?? 'acme', userId: o.user ?? 'alice', scopes: o.scopes ?? TEST_SCOPES, ...(o.ttlSeconds ? { ttlSeconds: o.ttlSeconds } : {}) });
  const defaultToken = await token();

  const request = async (method: string, path: string, body: unknown, headers: Record<string, string>): Promise<HttpAnswer> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (an event stream, say): keep the text.
    }
    return { status: response.status, body: parsed, headers: response.headers };
  };
  const auth = (t: string | undefined): Record<string, string> => (t === '' ? {} : { authorization: `Bearer ${t ?? defaultToken}` });

  return {
    url,
    store,
    storePath,
    taskQueue,
    server,
    model,
    ...(worker ? { worker } : {}),
    probe,
    logs,
    token,
    call: (tool, args, o = {}) =>
      request('POST', '/v1/tool-calls', { tool, arguments: args }, {
        ...auth(o.token),
        ...(o.key ? { 'idempotency-key': o.key } : {}),
        ...(o.session ? { 'holdline-session': o.session } : {}),
      }),
    get: (path, t) => request('GET', path, undefined, auth(t)),
    post: (path, body, t) => request('POST', path, body, auth(t)),
    stop: async () => {
      await server.close();
      await model.close();
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await progress?.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh idempotency key, so tests never collide on the shared server. */
export function freshKey(prefix = 'k'): string {
  return `${prefix}-${randomUUID()}`;
}
