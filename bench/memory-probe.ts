/**
 * Lets a parent process ask this one for its memory over IPC: `'memory'`
 * collects garbage first (to tell growth from garbage not yet collected, when
 * the process runs with --expose-gc); `'memory:live'` reports as it stands.
 */
export interface MemoryReading {
  rssMb: number;
  heapMb: number;
}

export function answerMemoryRequests(): void {
  process.on('message', (message) => {
    if (message !== 'memory' && message !== 'memory:live') return;
    if (message === 'memory') (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    process.send?.({ rssMb: rss / 2 ** 20, heapMb: heapUsed / 2 ** 20 } satisfies MemoryReading);
  });
}
