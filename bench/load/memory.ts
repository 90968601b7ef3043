import type { Cluster } from '../chaos/cluster';
import { peakRssOf, rssOf } from '../chaos/node-process';

/**
 * Memory of every process of a load run. Peaks: resident set from the
 * kernel's high-water mark, V8 heap from samples taken every `everyMs`
 * without forcing a collection. Snapshots: heap after a full collection, to
 * tell growth from garbage not yet collected.
 */
export interface PeakMemory {
  process: string;
  peakRssMb?: number;
  peakHeapMb?: number;
}

export interface HeapSnapshot {
  process: string;
  /** V8 heap after a full collection (Node processes). */
  heapMb?: number;
  /** Resident set (the Temporal dev server, a Go process, has no V8 heap). */
  rssMb?: number;
}

export class MemoryWatch {
  private readonly peakHeap = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly cluster: Cluster) {}

  start(everyMs = 1_000): void {
    this.timer = setInterval(() => void this.sample(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    for (const p of [this.cluster.server, this.cluster.worker]) {
      const reading = await p.memory(false);
      if (reading) this.peakHeap.set(p.name, Math.max(this.peakHeap.get(p.name) ?? 0, reading.heapMb));
    }
    this.peakHeap.set('clients', Math.max(this.peakHeap.get('clients') ?? 0, process.memoryUsage().heapUsed / 2 ** 20));
  }

  peaks(): PeakMemory[] {
    const { server, worker, temporal } = this.cluster;
    return [
      { process: 'server', peakRssMb: server.peakRssMb(), peakHeapMb: this.peakHeap.get('server') },
      { process: 'worker', peakRssMb: worker.peakRssMb(), peakHeapMb: this.peakHeap.get('worker') },
      { process: 'temporal', peakRssMb: temporal.pid === undefined ? undefined : peakRssOf(temporal.pid) },
      { process: 'clients (this process, with the scripted model)', peakRssMb: peakRssOf(process.pid), peakHeapMb: this.peakHeap.get('clients') },
    ];
  }

  async snapshot(): Promise<HeapSnapshot[]> {
    const { server, worker, temporal } = this.cluster;
    return [
      { process: 'server', heapMb: (await server.memory(true))?.heapMb },
      { process: 'worker', heapMb: (await worker.memory(true))?.heapMb },
      { process: 'temporal', rssMb: temporal.pid === undefined ? undefined : rssOf(temporal.pid) },
    ];
  }
}
