import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * CPU accounting. The dev server, the workers, the gateway and the clients
 * share the same cores, so where the CPU goes explains the throughput, and a
 * box already busy before the run explains bad figures.
 */
export interface CpuUse {
  /** Share of all cores busy over the window, 0–1. */
  machineBusy: number;
  /** Cores this process (gateway, workers, bench clients) used on average. */
  processCores: number;
}

export interface CpuMeter {
  stop(): CpuUse;
}

export function startCpuMeter(): CpuMeter {
  const machine = machineTimes();
  const process0 = process.cpuUsage();
  const started = performance.now();
  return {
    stop: () => {
      const now = machineTimes();
      const { user, system } = process.cpuUsage(process0);
      const wallMs = performance.now() - started;
      const total = now.total - machine.total;
      return {
        machineBusy: total > 0 ? 1 - (now.idle - machine.idle) / total : Number.NaN,
        processCores: (user + system) / 1000 / wallMs,
      };
    },
  };
}

/** How busy the machine is while this process waits: work by others. */
export async function idleCheck(ms = 1_000): Promise<number> {
  const meter = startCpuMeter();
  await delay(ms);
  return meter.stop().machineBusy;
}

function machineTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const { times } of cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

export function percent(share: number): string {
  return Number.isFinite(share) ? `${Math.round(share * 100)}%` : 'n/a';
}
