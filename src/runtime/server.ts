import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { ToolFallback, ToolSpec } from '../contracts/tool-spec';
import type { ToolSource } from '../contracts/tool-source';
import type { ProgressSubscriber } from '../contracts/progress-channel';
import { CallFeed, Gateway, GatewayMetrics, ProgressHub, type ProgressSource, TemporalCalls, TenantPolicy, TokenVerifier, ToolRegistry } from '../gateway';
import type { GatewayLimits } from '../gateway/gateway';
import type { AdmissionSettings } from '../gateway/admission';
import { createHttpApi } from '../http/app';
import { CallControl } from '../gateway';
import { attachRealtime } from '../session/realtime-server';
import { SessionStore } from '../session/session-store';
import { TemporalSessionRecords } from './session-records';
import { modelEndpoint, type ModelTarget } from '../session/upstream';
import { openRedis } from './redis';
import type { ToolBreakerSettings } from '../gateway/tool-breakers';
import { watchTaskQueuePollers } from '../gateway/task-queue-pollers';

export interface HoldlineServerOptions {
  /** Owned by the server from now on: `close()` closes its connection. */
  client: Client;
  taskQueue: string;
  specs: readonly ToolSpec[];
  /** Tool sources whose tools the gateway serves besides `specs`. */
  sources?: readonly ToolSource[];
  /** One HS256 secret, when no `verifier` is given. */
  jwtSecret?: string;
  /** A token living longer than this is refused. Default 24 h. Used with `jwtSecret` only. */
  jwtMaxLifetimeSeconds?: number;
  /** Verifies tokens (several keys, a JWKS, iss/aud); its keys may be replaced while serving. Default: one from `jwtSecret`. */
  verifier?: TokenVerifier;
  logger: Logger;
  limits: GatewayLimits;
  backendTimeoutMs: number;
  /** Added to each call's budget for its workflow's execution timeout; default 30 s. */
  executionMarginMs?: number;
  breakerCooldownMs: number;
  /** Per-tool breakers and in-flight bounds; see `ToolBreakerSettings` for the defaults. */
  toolBreakers?: ToolBreakerSettings;
  /** How often the task queue's pollers are read for `holdline_task_queue_pollers`. Default 15 s. */
  pollersEveryMs?: number;
  /** Where workers publish progress. Without one, watched calls are read from Temporal every `progressPollMs`. */
  progress?: ProgressSubscriber;
  progressPollMs: number;
  fallbacks?: Readonly<Record<string, ToolFallback>>;
  /** Which tenant may use which tool (the tools file's `tenants`). Default: every tenant, every tool. */
  tenantPolicy?: TenantPolicy;
  realtime: {
    model: ModelTarget;
    spokenProgressEveryMs: number;
    resumeWindowMs: number;
    maxFrameBytes: number;
    /** Ping interval of client and model sockets; a peer silent for a whole interval is dropped. Default 15 s. */
    pingMs?: number;
    /** Bytes queued for a client (or the model) before it is closed as not reading. Default 4 MiB. */
    maxBufferedBytes?: number;
    /** Realtime sessions one user may have connected to this server at once. Default 10. */
    maxSessionsPerUser?: number;
  };
  /** More conditions `/readyz` requires, by name; see `HttpApiOptions.readiness`. */
  readiness?: Readonly<Record<string, () => boolean>>;
  /** Process-wide metrics (CPU, memory, event loop); off when several servers share a process, as in tests. */
  processMetrics?: boolean;
  /** Production leaves out development conveniences (`POST /dev/token`). Default: NODE_ENV is `production`. */
  production?: boolean;
  /** The Temporal Web UI's address, for clients' links to a call's workflow (`GET /v1/info`). Default: none. */
  temporalUiUrl?: string | null;
  /** Redis shared by every server and worker (progress, cluster-wide limits). Default: none, each process on its own. */
  redisUrl?: string;
  /** Admission of new calls; see `AdmissionSettings` for the defaults. */
  admission?: AdmissionSettings;
}

/**
 * Connections waiting to be accepted. Node's default (511) drops the rest of a
 * burst (a spike, every client reconnecting after a deploy), and a dropped SYN
 * is retried only after a second, then three: the kernel caps this at
 * net.core.somaxconn.
 */
const LISTEN_BACKLOG = 4_096;

export interface HoldlineServer {
  gateway: Gateway;
  hub: ProgressHub;
  feed: CallFeed;
  verifier: TokenVerifier;
  http: Server;
  sessions: SessionStore;
  /** Listens and resolves with the base URL. */
  listen(port: number, host: string): Promise<string>;
  close(): Promise<void>;
}

/** The gateway and its HTTP API, wired to a Temporal client. */
export function createHoldlineServer(options: HoldlineServerOptions): HoldlineServer {
  const calls = new TemporalCalls(options.client, {
    taskQueue: options.taskQueue,
    requestTimeoutMs: options.backendTimeoutMs,
    ...(options.executionMarginMs !== undefined ? { executionMarginMs: options.executionMarginMs } : {}),
  });
  // Progress for live readers comes through the hub, created below once the gateway exists.
  const feed: CallFeed = new CallFeed((call, listener): (() => void) => hub.subscribe(call, listener), options.logger);
  // Cluster-wide limits; closed with the server. Calls never wait on it: see gateway/limits.
  const limitsRedis = options.redisUrl ? openRedis(options.redisUrl, 'limits', options.logger) : undefined;
  const verifier = options.verifier ?? new TokenVerifier(requiredSecret(options.jwtSecret), { ...(options.jwtMaxLifetimeSeconds ? { maxLifetimeSeconds: options.jwtMaxLifetimeSeconds } : {}) });
  const gateway = new Gateway({
    registry: new ToolRegistry(options.specs, options.sources),
    calls,
    verifier,
    logger: options.logger,
    limits: options.limits,
    metrics: new GatewayMetrics({ processMetrics: options.processMetrics ?? true }),
    breakerCooldownMs: options.breakerCooldownMs,
    ...(options.fallbacks ? { fallbacks: options.fallbacks } : {}),
    ...(options.tenantPolicy ? { tenantPolicy: options.tenantPolicy } : {}),
    feed,
    ...(limitsRedis ? { limitsRedis } : {}),
    ...(options.toolBreakers ? { toolBreakers: options.toolBreakers } : {}),
    ...(options.admission ? { admission: options.admission } : {}),
  });
  verifier.onFailure((reason) => gateway.metrics.authFailures.inc({ reason }));
  const stopPollers = watchTaskQueuePollers({
    client: options.client,
    taskQueue: options.taskQueue,
    registry: gateway.metrics.registry,
    logger: options.logger,
    ...(options.pollersEveryMs ? { everyMs: options.pollersEveryMs } : {}),
  });
  const hub: ProgressHub = new ProgressHub(calls, (call) => gateway.completionOf(call), progressSourceOf(options), options.logger);
  const production = options.production ?? process.env.NODE_ENV === 'production';
  const app = createHttpApi({
    gateway,
    hub,
    feed,
    logger: options.logger,
    ...(options.readiness ? { readiness: options.readiness } : {}),
    ...(production ? {} : { devTokens: verifier }),
    temporal: { namespace: options.client.options.namespace, uiUrl: options.temporalUiUrl ?? undefined },
  });
  const http = createServer(app);
  http.keepAliveTimeout = 65_000;
  const records = new TemporalSessionRecords(options.client, {
    taskQueue: options.taskQueue,
    requestTimeoutMs: options.backendTimeoutMs,
    resumeWindowMs: options.realtime.resumeWindowMs,
    logger: options.logger,
  });
  const sessions = new SessionStore(
    { gateway, control: new CallControl(gateway, feed), hub, logger: options.logger, spokenProgressEveryMs: options.realtime.spokenProgressEveryMs, records },
    records,
    { resumeWindowMs: options.realtime.resumeWindowMs, maxSessionsPerUser: options.realtime.maxSessionsPerUser ?? 10 },
  );
  const realtime = attachRealtime({
    http,
    gateway,
    store: sessions,
    logger: options.logger,
    modelEndpoint: (sidebandCallId) => modelEndpoint(options.realtime.model, sidebandCallId),
    maxFrameBytes: options.realtime.maxFrameBytes,
    records,
    pingMs: options.realtime.pingMs ?? 15_000,
    maxBufferedBytes: options.realtime.maxBufferedBytes ?? 4 * 1024 * 1024,
  });

  let closed = false;
  return {
    gateway,
    hub,
    feed,
    verifier,
    http,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
          const { port: actual } = http.address() as AddressInfo;
          resolve(`http://${host.includes(':') ? `[${host}]` : host}:${actual}`);
        });
      }),
    sessions,
    close: async () => {
      if (closed) return;
      closed = true;
      stopPollers();
      await realtime.close();
      gateway.admission.close();
      feed.close();
      hub.close();
      await calls.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      await options.client.connection.close();
      // QUIT lets the releases of calls ended by the close reach Redis first.
      if (limitsRedis) await limitsRedis.quit().catch(() => limitsRedis.disconnect());
    },
  };
}

function requiredSecret(secret: string | undefined): string {
  if (!secret) throw new TypeError('createHoldlineServer needs a jwtSecret or a verifier');
  return secret;
}

function progressSourceOf(options: HoldlineServerOptions): ProgressSource {
  if (options.progress) {
    options.logger.info({ progress: options.progress.kind }, options.progress.kind === 'redis' ? 'progress is pushed through Redis' : 'progress is pushed in-process');
    return { kind: 'pushed', channel: options.progress };
  }
  options.logger.warn(
    { progress_poll_ms: options.progressPollMs },
    'progress has no channel (workers in other processes and no HOLDLINE_REDIS_URL): each watched call is read from Temporal every progress_poll_ms',
  );
  return { kind: 'polled', everyMs: options.progressPollMs };
}
