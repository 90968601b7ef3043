import { setTimeout as delay } from 'node:timers/promises';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { Logger } from 'pino';
import { activitiesOf, progressPublishing, type ToolImplementation } from '../activities';
import type { ProgressPublisher } from '../contracts/progress-channel';
import type { ToolSource } from '../contracts/tool-source';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { activityTracingInterceptors, workflowInterceptorModules, workflowSpanSinks, type Tracing } from './tracing';

export interface ToolWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  tools: readonly ToolImplementation[];
  /** Tools served from outside (HTTP endpoints, MCP servers); their activities are registered too. */
  sources?: readonly ToolSource[];
  /** A prebuilt workflow bundle; default: bundle `src/workflows` at start (a few seconds). */
  workflowBundle?: WorkflowBundleOption;
  identity?: string;
  /** Longest a tool's heartbeats are held back; default {@link DEFAULT_HEARTBEAT_THROTTLE_MS}. */
  heartbeatThrottleMs?: number;
  /** Where each progress update goes at once, for the servers' readers; default: only into heartbeats. */
  progress?: ProgressPublisher;
  /** Traces of workflows and activities; default: none. A prebuilt bundle must have been made for it (bundleToolWorkflows with the same tracing). */
  tracing?: Tracing;
  /**
   * Run as this version of a Worker Deployment, with every call pinned to the
   * version it started on; default: unversioned (any worker of the task queue
   * takes any task). See {@link WorkerDeployment}.
   */
  deployment?: WorkerDeployment;
}

/**
 * A version of the workers of one task queue. A call starts on the
 * deployment's current version and stays there (PINNED): a new version takes
 * new calls once it is made current, while the old one finishes the calls it
 * started, on the code it started them with, and can stop once none is left.
 */
export interface WorkerDeployment {
  /** One name for every version of these workers (HOLDLINE_DEPLOYMENT_NAME). */
  name: string;
  /** This code's version, e.g. a commit or image tag (HOLDLINE_BUILD_ID). */
  buildId: string;
}

/**
 * Heartbeats tell Temporal the attempt is alive and bring back a cancellation;
 * readers get progress through the progress channel, not from heartbeats. The
 * default is set by cancellation: a barge-in must stop a refund before its
 * money moves, and a tool hears of it only in a heartbeat's answer. At most
 * five a second per call that reports progress, however often it reports.
 * Each heartbeat that reaches Temporal is a request (and a billed action on
 * Temporal Cloud): raise HOLDLINE_HEARTBEAT_THROTTLE_MS to trade cancellation
 * latency for cost (SCALING.md). (Unset, the SDK waits up to 0.8 × the
 * heartbeat timeout.)
 */
export const DEFAULT_HEARTBEAT_THROTTLE_MS = 200;

/** The worker that runs `toolCallWorkflow` and one activity per tool. */
export async function createToolWorker(options: ToolWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: activitiesOf(options.tools, options.sources),
    maxHeartbeatThrottleInterval: options.heartbeatThrottleMs ?? DEFAULT_HEARTBEAT_THROTTLE_MS,
    defaultHeartbeatThrottleInterval: options.heartbeatThrottleMs ?? DEFAULT_HEARTBEAT_THROTTLE_MS,
    ...(options.identity ? { identity: options.identity } : {}),
    interceptors: {
      activity: [...(options.progress ? [progressPublishing(options.progress)] : []), ...activityTracingInterceptors(options.tracing)],
      // Bundled with the workflows when the worker bundles them itself (a prebuilt bundle has them: bundleToolWorkflows).
      ...(options.workflowBundle ? {} : { workflowModules: workflowInterceptorModules(options.tracing) }),
    },
    sinks: workflowSpanSinks(options.tracing),
    ...(options.deployment
      ? {
          workerDeploymentOptions: {
            version: { deploymentName: options.deployment.name, buildId: options.deployment.buildId },
            useWorkerVersioning: true,
            defaultVersioningBehavior: 'PINNED',
          },
        }
      : {}),
  });
}

/**
 * Bundles `src/workflows` once, so a worker that reconnects does not bundle
 * again, and a broken bundle stops start-up instead of every retry.
 */
export async function bundleToolWorkflows(logger: Logger, tracing?: Tracing): Promise<WorkflowBundleOption> {
  const log = logger.child({ component: 'workflow-bundler' });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    workflowInterceptorModules: workflowInterceptorModules(tracing),
    logger: {
      log: (level, message, meta) => log.debug(meta ?? {}, `${level} ${message}`),
      trace: (message, meta) => log.trace(meta ?? {}, message),
      debug: (message, meta) => log.debug(meta ?? {}, message),
      info: (message, meta) => log.debug(meta ?? {}, message),
      warn: (message, meta) => log.warn(meta ?? {}, message),
      error: (message, meta) => log.error(meta ?? {}, message),
    },
  });
  return { code };
}

/** What the supervisor needs of a connection and a worker (a real `NativeConnection` and `Worker` fit). */
export interface ClosableConnection {
  close(): Promise<void>;
}
export type RunnableWorker = Pick<Worker, 'run' | 'shutdown' | 'getState'>;

export type SupervisedWorkerState = 'connecting' | 'polling' | 'waiting' | 'stopped';

export interface WorkerSupervisorOptions<C extends ClosableConnection> {
  /** Opens a connection to Temporal; called again after every failure. */
  connect: () => Promise<C>;
  /** Builds a worker on a fresh connection. */
  create: (connection: C) => Promise<RunnableWorker>;
  logger: Logger;
  /** Where Temporal is, for the logs. */
  address: string;
  /** Default: {@link DEFAULT_BACKOFF}. */
  backoff?: Readonly<BackoffOptions>;
  /** Longest wait on one connection attempt before it counts as failed. Default 10 s. */
  connectTimeoutMs?: number;
}

export interface SupervisedWorker {
  readonly state: SupervisedWorkerState;
  /** Settles after the first attempt: true when the worker polls, false when that attempt failed (it keeps trying). */
  readonly firstAttempt: Promise<boolean>;
  /** Resolves the next time the worker starts polling (now, if it polls). */
  polling(): Promise<void>;
  /** Stops trying, or shuts the worker down and waits for its tasks to drain; closes the connection. */
  stop(): Promise<void>;
}

/**
 * Keeps a worker running for as long as the process lives: connects to
 * Temporal with capped exponential backoff and jitter until it answers, then
 * polls. If the worker stops without being asked (its connection lost for
 * good, a fatal error), the connection is dropped and the same loop starts
 * over: a process that looks alive is one that polls or is trying to. Each
 * failed attempt is one warn line with the next delay.
 */
export function superviseWorker<C extends ClosableConnection>(options: WorkerSupervisorOptions<C>): SupervisedWorker {
  const log = options.logger;
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const stopping = new AbortController();
  let state: SupervisedWorkerState = 'connecting';
  let current: RunnableWorker | undefined;
  let settleFirst: (polls: boolean) => void = () => {};
  const firstAttempt = new Promise<boolean>((resolve) => (settleFirst = resolve));
  const onPolling: (() => void)[] = [];

  /** Waits out the backoff after a failure; false when stop() came first. */
  const waitBeforeRetry = async (failures: number, message: string, error: unknown) => {
    const retryInMs = backoffDelay(failures, backoff);
    log.warn({ address: options.address, attempt: failures, retry_in_ms: retryInMs, reason: reasonOf(error) }, message);
    state = 'waiting';
    try {
      await delay(retryInMs, undefined, { signal: stopping.signal });
      return true;
    } catch {
      return false;
    }
  };

  const loop = async () => {
    let failures = 0;
    let everPolled = false;
    while (!stopping.signal.aborted) {
      state = 'connecting';
      let connection: C;
      try {
        connection = await settleWithin(options.connect(), connectTimeoutMs, stopping.signal);
      } catch (error) {
        settleFirst(false);
        if (stopping.signal.aborted) break;
        if (!(await waitBeforeRetry(++failures, 'Temporal is not reachable yet; the worker keeps trying', error))) break;
        continue;
      }
      let worker: RunnableWorker;
      try {
        worker = await options.create(connection);
      } catch (error) {
        // A namespace that does not exist yet, a connection lost meanwhile: worth another try.
        await closeQuietly(connection);
        settleFirst(false);
        if (stopping.signal.aborted) break;
        if (!(await waitBeforeRetry(++failures, 'the Temporal worker could not start; retrying', error))) break;
        continue;
      }
      let outcome: unknown;
      try {
        const run = worker.run();
        current = worker;
        // stop() may have come while the worker was being built.
        if (stopping.signal.aborted) worker.shutdown();
        else {
          state = 'polling';
          log.info({ address: options.address }, everPolled || failures > 0 ? 'Temporal is reachable: worker polling' : 'worker polling');
          everPolled = true;
          failures = 0;
          settleFirst(true);
          for (const resolve of onPolling.splice(0)) resolve();
        }
        await run;
        outcome = new Error('the worker stopped without being asked to');
      } catch (error) {
        outcome = error;
      } finally {
        current = undefined;
        await closeQuietly(connection);
      }
      if (stopping.signal.aborted) break;
      // Once, with its stack: this is not the expected "not up yet" of start-up.
      log.error({ err: outcome }, 'the Temporal worker stopped; reconnecting');
      if (!(await waitBeforeRetry(++failures, 'reconnecting the Temporal worker', outcome))) break;
    }
    state = 'stopped';
    settleFirst(false);
  };
  const done = loop();

  return {
    get state() {
      return state;
    },
    firstAttempt,
    polling: () => (state === 'polling' ? Promise.resolve() : new Promise<void>((resolve) => onPolling.push(resolve))),
    stop: async () => {
      stopping.abort();
      if (current?.getState() === 'RUNNING') current.shutdown();
      await done;
    },
  };
}

/**
 * Resolves with `pending`, unless `timeoutMs` passes or `signal` aborts first;
 * a connection that arrives too late is closed, not leaked.
 */
async function settleWithin<C extends ClosableConnection>(pending: Promise<C>, timeoutMs: number, signal: AbortSignal): Promise<C> {
  let abandoned = false;
  const timer = new AbortController();
  const lapse = delay(timeoutMs, undefined, { signal: AbortSignal.any([timer.signal, signal]) }).then(
    () => Promise.reject(new Error(`no answer within ${timeoutMs} ms`)),
    () => Promise.reject(new Error('stopped')),
  );
  try {
    return await Promise.race([pending, lapse]);
  } catch (error) {
    abandoned = true;
    throw error;
  } finally {
    timer.abort();
    void lapse.catch(() => {});
    if (abandoned) void pending.then(closeQuietly, () => {});
  }
}

async function closeQuietly(connection: ClosableConnection): Promise<void> {
  await connection.close().catch(() => {});
}

/** One line, no stack: a refused connection is expected while Temporal starts. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}
