import { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * A Redis connection for one job (publishing, subscribing, limits). Commands
 * fail at once while Redis is unreachable instead of queueing behind a
 * reconnect: a tool call must not wait on Redis, and each caller decides what a
 * failure means for it. Reconnects forever with a capped backoff, and says so.
 */
export function openRedis(url: string, purpose: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    connectionName: `holdline-${purpose}`,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), 2_000),
  });
  let down = false;
  redis.on('ready', () => {
    if (down) logger.info({ redis: purpose }, 'Redis reachable again');
    down = false;
  });
  redis.on('error', (error) => {
    if (down) return;
    down = true;
    logger.warn({ redis: purpose, err: error }, 'Redis unreachable; retrying in the background');
  });
  return redis;
}

/** Resolves once the connection is ready, or rejects with why after `timeoutMs`. */
export async function redisReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${redis.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
