import { performance } from 'node:perf_hooks';
import { coresBetween, cpuSnapshot } from '../capacity/proc-cpu';
import type { Cluster } from '../chaos/cluster';

/** What the server's admission looked like at one moment (from `/readyz`). */
interface AdmissionLook {
  atMs: number;
  limit: number | null;
  in_flight: number;
  queue: number;
  mode: string;
}

export interface SpikeWatch {
  /** Stops watching; the limit and the in-flight calls per second, and the cores each process used meanwhile. */
  stop(): { timeline: string[]; cores: Record<string, number> };
}

/**
 * Watches a run from outside: the server's admission state twice a second
 * (`/readyz`, as an operator would), and the CPU each process of the Holdline
 * and the load itself used, so a missed target can be traced to the limit
 * or to the machine.
 */
export function watchSpike(cluster: Cluster): SpikeWatch {
  const startedAt = performance.now();
  const pids = { temporal: cluster.temporal.pid, worker: cluster.worker.pid, server: cluster.server.pid };
  const before = cpuSnapshot(pids);
  const looks: AdmissionLook[] = [];
  let stopped = false;
  const poll = async () => {
    while (!stopped) {
      const atMs = performance.now() - startedAt;
      try {
        const body = (await (await fetch(`${cluster.apiUrl}/readyz`, { signal: AbortSignal.timeout(1_000) })).json()) as { admission?: Omit<AdmissionLook, 'atMs'> };
        if (body.admission) looks.push({ atMs, ...body.admission });
      } catch {
        // A look that times out is left out; the timeline shows the gap.
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 500 - (performance.now() - startedAt - atMs))));
    }
  };
  const polling = poll();
  return {
    stop() {
      stopped = true;
      void polling;
      const cores = coresBetween(before, cpuSnapshot(pids), (performance.now() - startedAt) / 1000);
      const mode = (m: string) => (m === 'normal' ? 'n' : m === 'degraded' ? 'd' : 's');
      const timeline = looks.map((l) => `${(l.atMs / 1000).toFixed(1)}s ${l.limit ?? '∞'}/${l.in_flight}${l.queue ? `+${l.queue}` : ''}${mode(l.mode)}`);
      return { timeline, cores };
    },
  };
}
