import type { Redis } from 'ioredis';
import { ToolProgressSchema, type ToolProgress } from '../contracts/envelope';
import type { ProgressChannel } from '../contracts/progress-channel';
import type { Logger } from './logger';
import { openRedis } from './redis';

type Listener = (progress: ToolProgress) => void;

/** Latest progress kept for late readers, per process; beyond this many running calls the oldest is forgotten. */
const MAX_REMEMBERED = 10_000;

/** Worker and server in one process: progress is handed over in memory. */
export class InProcessProgressChannel implements ProgressChannel {
  readonly kind = 'in-process';
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly latestOf = new Map<string, ToolProgress>();

  constructor(private readonly logger: Logger) {}

  publish(workflowId: string, progress: ToolProgress): void {
    this.latestOf.delete(workflowId);
    this.latestOf.set(workflowId, progress);
    if (this.latestOf.size > MAX_REMEMBERED) this.latestOf.delete(this.latestOf.keys().next().value!);
    deliver(this.listeners.get(workflowId), progress, workflowId, this.logger);
  }

  ended(workflowId: string): void {
    this.latestOf.delete(workflowId);
  }

  subscribe(workflowId: string, listener: Listener): () => void {
    return addListener(this.listeners, workflowId, listener);
  }

  latest(workflowId: string): Promise<ToolProgress | undefined> {
    return Promise.resolve(this.latestOf.get(workflowId));
  }

  async close(): Promise<void> {
    this.listeners.clear();
    this.latestOf.clear();
  }
}

/**
 * Servers and workers in several processes: each update is one PUBLISH on the
 * call's own channel, and its latest value a key that expires, for readers who
 * join late. A server subscribes to the channels of the calls its readers
 * watch, and only while they watch. While Redis is down, updates are dropped
 * (readers see the next one, and the result always comes from Temporal).
 */
export class RedisProgressChannel implements ProgressChannel {
  readonly kind = 'redis';
  private readonly listeners = new Map<string, Set<Listener>>();
  /** Calls this process published for, whose latest value it removes when they end. */
  private readonly published = new Set<string>();
  private readonly prefix: string;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly logger: Logger,
    options: { namespace: string; latestTtlSeconds?: number },
  ) {
    this.prefix = `holdline:${options.namespace}:progress:`;
    this.latestTtlSeconds = options.latestTtlSeconds ?? 3_600;
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
    // Subscriptions asked for while Redis was down, and updates missed meanwhile, once it is back.
    subscriber.on('ready', () => void this.resubscribe());
  }

  private readonly latestTtlSeconds: number;

  publish(workflowId: string, progress: ToolProgress): void {
    const message = JSON.stringify(progress);
    this.published.add(workflowId);
    this.publisher
      .pipeline()
      .publish(this.channelOf(workflowId), message)
      .set(this.latestKeyOf(workflowId), message, 'EX', this.latestTtlSeconds)
      .exec()
      .catch((error: unknown) => this.logger.debug({ workflow_id: workflowId, err: error }, 'progress not published (Redis unreachable)'));
  }

  ended(workflowId: string): void {
    if (!this.published.delete(workflowId)) return;
    this.publisher.del(this.latestKeyOf(workflowId)).catch(() => undefined); // it expires anyway
  }

  subscribe(workflowId: string, listener: Listener): () => void {
    const first = !this.listeners.has(workflowId);
    const unsubscribe = addListener(this.listeners, workflowId, (progress) => listener(progress));
    if (first) {
      this.subscriber.subscribe(this.channelOf(workflowId)).catch((error: unknown) => {
        this.logger.debug({ workflow_id: workflowId, err: error }, 'progress subscription waits for Redis');
      });
    }
    return () => {
      unsubscribe();
      if (!this.listeners.has(workflowId)) this.subscriber.unsubscribe(this.channelOf(workflowId)).catch(() => undefined);
    };
  }

  async latest(workflowId: string): Promise<ToolProgress | undefined> {
    const message = await this.publisher.get(this.latestKeyOf(workflowId));
    return message === null ? undefined : this.parse(message, workflowId);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await Promise.allSettled([this.publisher.quit(), this.subscriber.quit()]);
  }

  private onMessage(channel: string, message: string): void {
    if (!channel.startsWith(this.prefix)) return;
    const workflowId = channel.slice(this.prefix.length);
    const progress = this.parse(message, workflowId);
    if (progress) deliver(this.listeners.get(workflowId), progress, workflowId, this.logger);
  }

  private async resubscribe(): Promise<void> {
    const watched = [...this.listeners.keys()];
    if (watched.length === 0) return;
    try {
      await this.subscriber.subscribe(...watched.map((id) => this.channelOf(id)));
    } catch (error) {
      this.logger.warn({ err: error, calls: watched.length }, 'could not renew progress subscriptions; retrying when Redis is back');
      return;
    }
    for (const workflowId of watched) {
      const progress = await this.latest(workflowId).catch(() => undefined);
      if (progress) deliver(this.listeners.get(workflowId), progress, workflowId, this.logger);
    }
  }

  /** Another process wrote it: checked like any input. */
  private parse(message: string, workflowId: string): ToolProgress | undefined {
    try {
      const parsed = ToolProgressSchema.safeParse(JSON.parse(message));
      if (parsed.success) return parsed.data;
    } catch {
      // reported below
    }
    this.logger.warn({ workflow_id: workflowId }, 'ignored a progress message that is not a progress update');
    return undefined;
  }

  private channelOf(workflowId: string): string {
    return this.prefix + workflowId;
  }

  private latestKeyOf(workflowId: string): string {
    return `${this.prefix}latest:${workflowId}`;
  }
}

function addListener(listeners: Map<string, Set<Listener>>, workflowId: string, listener: Listener): () => void {
  let set = listeners.get(workflowId);
  if (!set) listeners.set(workflowId, (set = new Set()));
  set.add(listener);
  return () => {
    const current = listeners.get(workflowId);
    if (!current?.delete(listener)) return;
    if (current.size === 0) listeners.delete(workflowId);
  };
}

/** A reader's failure is its own: it must not reach the tool that published, nor the other readers. */
function deliver(listeners: Set<Listener> | undefined, progress: ToolProgress, workflowId: string, logger: Logger): void {
  if (!listeners) return;
  for (const listener of [...listeners]) {
    try {
      listener(progress);
    } catch (error) {
      logger.error({ workflow_id: workflowId, err: error }, 'a progress reader failed');
    }
  }
}

/**
 * The channel a process's workers publish to and its server listens on: Redis
 * when several processes share it, memory when worker and server are one
 * process, none otherwise (the server then reads watched calls from Temporal).
 */
export function openProgressChannel(options: { redisUrl: string | undefined; namespace: string; role: 'all' | 'server' | 'worker'; logger: Logger }): ProgressChannel | undefined {
  const { redisUrl, logger } = options;
  if (redisUrl) {
    return new RedisProgressChannel(openRedis(redisUrl, 'progress-publish', logger), openRedis(redisUrl, 'progress-subscribe', logger), logger, { namespace: options.namespace });
  }
  if (options.role === 'all') return new InProcessProgressChannel(logger);
  if (options.role === 'worker') logger.warn('no HOLDLINE_REDIS_URL: progress reaches the servers only through heartbeats, which they read from Temporal while someone watches');
  return undefined;
}
