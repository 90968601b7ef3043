import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { startCpuMeter, type CpuMeter } from '../cpu';

/**
 * CPU per process, from /proc (Linux): each process's user + system time,
 * its descendants' included, over a window. Other processes on the machine
 * (other people's work) show in `machineBusy` only.
 */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Seconds of CPU a process has used so far; 0 once it is gone. */
function cpuSecondsOfPid(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command, which may hold spaces: state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** `pid` and every process below it, as the process table stands now. */
function treeOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(parent) ?? [];
      list.push(Number(entry));
      children.set(parent, list);
    } catch {
      // it exited meanwhile
    }
  }
  const tree: number[] = [];
  const visit = (id: number) => {
    tree.push(id);
    for (const child of children.get(id) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}

export interface ProcessCpu<Name extends string> {
  /** Cores each named process used on average over the window (CPU seconds / wall seconds). */
  cores: Record<Name, number>;
  /** Cores this process (the load: HTTP clients, SSE readers, realtime clients, the scripted model) used. */
  loadCores: number;
  /** Share of all the machine's cores busy over the window, 0–1, everyone's work included. */
  machineBusy: number;
  wallMs: number;
}

/** Starts measuring the named processes (and their descendants); `stop` returns what each used since. */
export function startProcessCpuMeter<Name extends string>(pids: Record<Name, number>): { stop(): ProcessCpu<Name> } {
  const trees = Object.fromEntries(Object.entries<number>(pids).map(([name, pid]) => [name, treeOf(pid)])) as Record<Name, number[]>;
  const total = (tree: number[]) => tree.reduce((sum, pid) => sum + cpuSecondsOfPid(pid), 0);
  const before = Object.fromEntries(Object.entries<number[]>(trees).map(([name, tree]) => [name, total(tree)])) as Record<Name, number>;
  const machine: CpuMeter = startCpuMeter();
  const started = performance.now();
  return {
    stop: () => {
      const wallMs = performance.now() - started;
      const cores = Object.fromEntries(
        Object.entries<number[]>(trees).map(([name, tree]) => [name, (total(tree) - before[name as Name]) / (wallMs / 1000)]),
      ) as Record<Name, number>;
      const { machineBusy, processCores } = machine.stop();
      return { cores, loadCores: processCores, machineBusy, wallMs };
    },
  };
}
