import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of whole process trees from /proc (Linux): PostgreSQL runs one
 * process per connection under its postmaster, so a root pid alone would
 * miss most of its work. Ticks are USER_HZ (100 on Linux).
 */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime of the process itself. */
  ticks: number;
  /** cutime + cstime: children that exited and were reaped. */
  reapedTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { ppid: n(4), ticks: n(14) + n(15), reapedTicks: n(16) + n(17) };
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by `root` and every live descendant, plus descendants already reaped. */
export function treeCpuSeconds(root: number): number {
  const children = new Map<number, number[]>();
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    stats.set(pid, stat);
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  }
  let ticks = 0;
  const rootStat = stats.get(root);
  if (!rootStat) return Number.NaN;
  ticks += rootStat.reapedTicks;
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}

/** Named process trees, read together. */
export type CpuSnapshot = Record<string, number>;

export function cpuSnapshot(pids: Record<string, number | undefined>): CpuSnapshot {
  const snapshot: CpuSnapshot = {};
  for (const [name, pid] of Object.entries(pids)) if (pid !== undefined) snapshot[name] = treeCpuSeconds(pid);
  snapshot.bench = process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6;
  return snapshot;
}

/** Cores each tree used on average between two snapshots `wallSeconds` apart. */
export function coresBetween(before: CpuSnapshot, after: CpuSnapshot, wallSeconds: number): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((name) => [name, ((after[name] ?? 0) - (before[name] ?? 0)) / wallSeconds]));
}
