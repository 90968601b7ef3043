// The Holdline server (`npm run server`) in a process of its own for the realtime load,
// with one addition for the benchmark: asked over IPC, it collects garbage and
// reports its memory, so growth is told apart from garbage not yet collected.
import { runRole } from '../src/cli/run';

process.on('message', (message) => {
  if (message !== 'memory') return;
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  process.send?.({ rssMb: rss / 2 ** 20, heapMb: heapUsed / 2 ** 20 });
});

void runRole('server');
