import { ms, summarize } from '../stats';
import type { ClosedLoopResult } from './closed-loop';
import type { HeapSnapshot, PeakMemory } from './memory';
import type { RateStep } from './rate-search';
import type { CallSample } from './timed-call';

type Print = (line: string) => void;

export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)];
}

const mb = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(1)} MB`);
const verdict = (met: boolean) => (met ? 'met' : 'MISSED');

/** Why calls did not end ok, most frequent first. */
export function reasons(samples: readonly CallSample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) if (s.outcome !== 'ok') counts.set(s.reason ?? 'unknown', (counts.get(s.reason ?? 'unknown') ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([reason, n]) => `${n}× ${reason}`).join('; ');
}

export function printClosedLoop(result: ClosedLoopResult, ledger: { missing: number; duplicated: number }, peaks: PeakMemory[], print: Print): { lost: number; duplicated: number } {
  const rows: string[][] = [];
  let lost = 0;
  let duplicated = ledger.duplicated;
  for (const transport of ['http', 'realtime', 'all'] as const) {
    const samples = result.samples.filter((s) => transport === 'all' || s.transport === transport);
    const ack = summarize(samples.flatMap((s) => (s.ackMs === undefined ? [] : [s.ackMs])));
    const done = summarize(samples.flatMap((s) => (s.completionMs === undefined ? [] : [s.completionMs])));
    const ended = samples.filter((s) => s.outcome !== undefined).length;
    const errors = samples.filter((s) => s.outcome === 'error').length;
    const missing = samples.length - ended;
    const extra = samples.reduce((sum, s) => sum + Math.max(0, s.terminals - 1), 0);
    if (transport === 'all') {
      lost = missing;
      duplicated += extra;
    }
    const ok = samples.filter((s) => s.outcome === 'ok').length;
    rows.push([transport, String(samples.length), (ok / (result.elapsedMs / 1000)).toFixed(1), ms(ack.p50), ms(ack.p99), ms(done.p50), ms(done.p99), String(errors), String(missing), String(extra)]);
  }
  for (const line of table(['calls over', 'calls', 'ok calls/s', 'ack p50', 'ack p99', 'completion p50', 'completion p99', 'errors', 'lost', 'duplicated'], rows)) print(line);
  print(`  ${result.clients} clients, ${(result.elapsedMs / 1000).toFixed(1)} s; ack = first answer (HTTP 202/200) or tool_call.accepted after the model's function call; completion = the final envelope`);
  if (result.samples.some((s) => s.outcome !== 'ok')) print(`  not ok: ${reasons(result.samples)}`);
  print(`  ledger: ${ledger.missing} ok refunds without a payment, ${ledger.duplicated} extra payments`);
  print(`  lost: ${lost} (must be 0): ${verdict(lost === 0)}; duplicated: ${duplicated} (must be 0): ${verdict(duplicated === 0)}`);
  print('');
  for (const line of table(['process', 'peak RSS', 'peak heap'], peaks.map((p) => [p.process, mb(p.peakRssMb), mb(p.peakHeapMb)]))) print(line);
  return { lost, duplicated: duplicated + ledger.missing };
}

export function printSteps(steps: readonly RateStep[], print: Print): void {
  const rows = steps.map((s) => [
    `${s.rate}/s`,
    String(s.offered),
    String(s.ok),
    String(s.errors),
    String(s.lost),
    ms(s.ackP99),
    ms(s.completionP99),
    `${Math.round(s.drainMs)} ms`,
    s.sustained ? 'yes' : `no: ${s.why}`,
  ]);
  for (const line of table(['arrival rate', 'offered', 'ok', 'errors', 'lost', 'ack p99', 'completion p99', 'drain', 'kept up'], rows)) print(line);
}

export interface HoldFigures {
  rate: number;
  durationMs: number;
  offered: number;
  samples: readonly CallSample[];
  warm: HeapSnapshot[];
  end: HeapSnapshot[];
  warmAtMs: number;
}

/** Prints the hold and returns whether each target was met. */
export function printHold(hold: HoldFigures, print: Print): { ackMet: boolean; errorsMet: boolean; heapMet: boolean } {
  const ack = summarize(hold.samples.flatMap((s) => (s.ackMs === undefined ? [] : [s.ackMs])));
  const done = summarize(hold.samples.flatMap((s) => (s.completionMs === undefined ? [] : [s.completionMs])));
  const errors = hold.samples.filter((s) => s.outcome !== 'ok').length;
  print(`  ${hold.offered} HTTP refunds at ${hold.rate}/s for ${hold.durationMs / 1000} s; latencies from each call's scheduled arrival`);
  print(`  ack p50 ${ms(ack.p50)}, p99 ${ms(ack.p99)} (target ≤ 100 ms): ${verdict(ack.p99 <= 100)}`);
  print(`  completion p50 ${ms(done.p50)}, p99 ${ms(done.p99)}`);
  print(`  errors (and lost): ${errors} (target 0): ${verdict(errors === 0)}${errors ? `: ${reasons(hold.samples)}` : ''}`);
  const rows: string[][] = [];
  let heapMet = true;
  for (const warm of hold.warm) {
    const end = hold.end.find((e) => e.process === warm.process);
    const before = warm.heapMb ?? warm.rssMb;
    const after = end?.heapMb ?? end?.rssMb;
    const change = before && after !== undefined ? (after - before) / before : undefined;
    const judged = warm.heapMb !== undefined;
    const met = change !== undefined && Math.abs(change) <= 0.1;
    if (judged && !met) heapMet = false;
    rows.push([
      warm.process,
      warm.heapMb !== undefined ? 'heap after full GC' : 'RSS',
      mb(before),
      mb(after),
      change === undefined ? 'n/a' : `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`,
      judged ? verdict(met) : 'informative',
    ]);
  }
  print(`  memory after warm-up (${Math.round(hold.warmAtMs / 1000)} s) vs at the end (target: flat within 10%):`);
  for (const line of table(['process', 'measure', 'after warm-up', 'at the end', 'change', 'target'], rows)) print(line);
  return { ackMet: ack.p99 <= 100, errorsMet: errors === 0, heapMet };
}
