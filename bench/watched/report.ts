import { cpus } from 'node:os';
import { QUICK } from '../config';
import { percent } from '../cpu';
import { ms, ratio, summarize } from '../stats';
import { summaryLine, table, type Row } from '../table';
import type { PhaseResult } from './load';
import type { WatchedResults } from './index';

/** The issue's targets for 500 watched long calls. */
export const TARGETS = { temporalRatio: 1.2, serverCores: 0.3, p95Ms: 300 } as const;

export function printWatchedReport(r: WatchedResults & { busyBefore: number }, print: (line: string) => void): void {
  const { plan } = r;
  const cpuList = cpus();
  print(`Watched long calls${QUICK ? ' (BENCH_QUICK=1: smoke run, do not judge by these figures)' : ''}`);
  print(`  machine:    ${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown CPU'}; load average before ${r.loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${r.loadAfter.map((l) => l.toFixed(2)).join(' ')}`);
  print(`  other load: CPUs ${percent(r.busyBefore)} busy with other work over 1 s before the run${r.busyBefore > 0.1 ? ' — NOT idle: figures are skewed' : ''}`);
  print(`  temporal:   ${r.cliVersion}, embedded dev server (SQLite), its own process`);
  print(`  processes:  Holdline server (npm run server) | worker process (${r.workers} workers × 100 activity slots) | redis-server | this process (HTTP, SSE and realtime clients, scripted model)`);
  print(`  calls:      ${plan.calls} × bench_long_progress, running until cancelled after the window, progress every ${plan.intervalMs / 1000} s (the message is the emit time)`);
  print(`  watched:    ${plan.calls - plan.realtime} over SSE (GET /v1/tool-calls/{id}/events), ${plan.realtime} started and watched by realtime sessions (one call each)`);
  print('');
  print('Phases (CPU in cores = CPU seconds / wall seconds over the window, each process with its children)');
  for (const [label, phase] of phases(r)) for (const line of phaseLines(label, phase)) print(line);
  print('');
  const rows = resultRows(r);
  for (const line of table(rows, { holdline: 'watched', raw: 'unwatched', ratio: 'watched/unwatched' })) print(line);
  const judged = rows.filter((row) => row.met !== undefined);
  print('');
  print(`${judged.filter((row) => row.met).length} of ${judged.length} targets met${QUICK ? ' (BENCH_QUICK=1)' : ''}.`);
}

function phases(r: WatchedResults): [string, PhaseResult][] {
  return [
    ['A unwatched', r.unwatched],
    ['B watched, pushed (Redis)', r.pushed],
    ...(r.polled ? ([['C watched, polled (no channel)', r.polled]] as [string, PhaseResult][]) : []),
  ];
}

function phaseLines(label: string, p: PhaseResult): string[] {
  const pad = ''.padEnd(44);
  const c = p.cpu.cores;
  const refusals = [...p.refusals].map(([reason, n]) => `${n}× ${reason}`).join('; ');
  return [
    `  ${label.padEnd(44)} ${p.acked}/${p.calls} acked in ${(p.startMs / 1000).toFixed(1)} s${p.retried ? ` (${p.retried} starts retried)` : ''}; ${p.completed} cancelled after the window as asked, ${p.failed} ended otherwise${p.otherwise.size ? ` (${[...p.otherwise].map(([how, n]) => `${n}× ${how}`).join(', ')})` : ''}, ${p.lost} lost${refusals ? `; refused: ${refusals}` : ''}`,
    `  ${pad} window ${(p.cpu.wallMs / 1000).toFixed(1)} s: Temporal ${c.temporal.toFixed(3)}, server ${c.server.toFixed(3)}, worker ${c.worker.toFixed(3)}, redis ${c.redis.toFixed(3)}, load ${p.cpu.loadCores.toFixed(3)} cores; machine ${percent(p.cpu.machineBusy)} busy`,
    ...(p.watched
      ? [
          summaryLine('    progress emitted → received, in window', summarize(p.latency)),
          summaryLine('    progress emitted → received, whole phase', summarize(p.latencyAll)),
          `  ${pad} ${p.replayed} replays of progress emitted before the reader attached (not counted)`,
        ]
      : []),
  ];
}

function resultRows(r: WatchedResults): Row[] {
  const a = r.unwatched.cpu.cores;
  const b = r.pushed.cpu.cores;
  const latency = summarize(r.pushed.latency);
  const cores = (n: number) => n.toFixed(3);
  const rows: Row[] = [
    { metric: 'Temporal CPU (cores), pushed', holdline: cores(b.temporal), raw: cores(a.temporal), ratio: ratio(b.temporal, a.temporal), target: `≤ ${TARGETS.temporalRatio}× unwatched`, met: b.temporal <= TARGETS.temporalRatio * a.temporal },
    { metric: 'Holdline server CPU (cores), pushed', holdline: cores(b.server), raw: cores(a.server), ratio: ratio(b.server, a.server), target: `< ${TARGETS.serverCores} core`, met: b.server < TARGETS.serverCores },
    { metric: 'worker CPU (cores), pushed', holdline: cores(b.worker), raw: cores(a.worker), ratio: ratio(b.worker, a.worker), target: '' },
    { metric: 'redis CPU (cores), pushed', holdline: cores(b.redis), raw: cores(a.redis), ratio: ratio(b.redis, a.redis), target: '' },
    { metric: 'progress p50, pushed', holdline: ms(latency.p50), raw: '', ratio: '', target: '' },
    { metric: 'progress p95, pushed', holdline: ms(latency.p95), raw: '', ratio: '', target: `≤ ${TARGETS.p95Ms} ms`, met: latency.p95 <= TARGETS.p95Ms },
    { metric: 'progress p99, pushed', holdline: ms(latency.p99), raw: '', ratio: '', target: '' },
    { metric: 'lost calls, pushed', holdline: String(r.pushed.lost + r.pushed.failed + (r.pushed.calls - r.pushed.acked)), raw: String(r.unwatched.lost + r.unwatched.failed + (r.unwatched.calls - r.unwatched.acked)), ratio: '', target: '0', met: r.pushed.lost + r.pushed.failed === 0 && r.pushed.acked === r.pushed.calls },
  ];
  // A phase that could not start every call runs fewer: compare Temporal per running call as well.
  if (r.pushed.acked !== r.unwatched.acked) {
    const per = (cpu: number, acked: number) => (acked > 0 ? (cpu / acked) * 100 : Number.NaN);
    const pb = per(b.temporal, r.pushed.acked);
    const pa = per(a.temporal, r.unwatched.acked);
    rows.splice(1, 0, { metric: `Temporal cores per 100 running calls (${r.pushed.acked} vs ${r.unwatched.acked} ran)`, holdline: cores(pb), raw: cores(pa), ratio: ratio(pb, pa), target: '' });
  }
  if (r.polled) {
    const c = r.polled.cpu.cores;
    const polled = summarize(r.polled.latency);
    rows.push(
      { metric: 'Temporal CPU (cores), polled', holdline: cores(c.temporal), raw: cores(a.temporal), ratio: ratio(c.temporal, a.temporal), target: '' },
      { metric: 'Holdline server CPU (cores), polled', holdline: cores(c.server), raw: cores(a.server), ratio: ratio(c.server, a.server), target: '' },
      { metric: 'progress p95, polled', holdline: ms(polled.p95), raw: '', ratio: '', target: '' },
    );
  }
  return rows;
}
