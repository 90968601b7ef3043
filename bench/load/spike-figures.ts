import { ms, summarize } from '../stats';
import { table } from './report';
import { BUDGET_MS, type SpikeSample } from './spike-calls';
import type { PhaseResult } from './spike-phase';

/** Keeping up with a rate: every call admitted and ended, completions within a second at p99, no backlog past 2 s. */
const MAX_COMPLETION_P99_MS = 1_000;
const MAX_DRAIN_MS = 2_000;
/** A recovery second counts as back at the maximum when this share of its arrivals were served well. */
export const RECOVERED_SHARE = 0.9;

export const TARGETS = { ackP99Ms: 100, shedP99Ms: 50, recoveryMs: 5_000 };

/** Served well: admitted, ended as the caller asked (ok; a cancelled refund: cancelled) within its budget. */
function served(s: SpikeSample): boolean {
  if (s.admission !== 'admitted' || !s.final || s.finalMs === undefined || s.finalMs > BUDGET_MS[s.kind]) return false;
  return s.final.status === 'ok' || (s.kind === 'refund_cancelled' && s.final.code === 'CANCELLED');
}

function overran(s: SpikeSample): boolean {
  return s.admission === 'admitted' && ((s.finalMs !== undefined && s.finalMs > BUDGET_MS[s.kind]) || s.final?.code === 'TIMEOUT');
}

export interface StepVerdict {
  rate: number;
  offered: number;
  served: number;
  notAdmitted: number;
  completionP99: number;
  ackP50: number;
  ackP99: number;
  drainMs: number;
  sustained: boolean;
  why: string;
}

export function judgeStep(rate: number, result: PhaseResult, lost: number): StepVerdict {
  const offered = result.samples.filter((s) => s.admission !== 'skipped').length;
  const skipped = result.samples.length - offered;
  const notAdmitted = result.samples.filter((s) => s.admission !== 'admitted' && s.admission !== 'skipped').length;
  const unserved = result.samples.filter((s) => s.admission === 'admitted' && !served(s)).length;
  const completionP99 = summarize(result.samples.flatMap((s) => (s.admission === 'admitted' && s.finalMs !== undefined ? [s.finalMs] : []))).p99;
  const ack = summarize(result.samples.flatMap((s) => (s.admission === 'admitted' && s.answerMs !== undefined ? [s.answerMs] : [])));
  const drainMs = result.elapsedMs - result.arrivalsMs;
  const why = [
    notAdmitted ? `${notAdmitted} not admitted` : '',
    unserved ? `${unserved} admitted but not served within budget` : '',
    skipped ? `${skipped} found no free realtime session` : '',
    lost ? `${lost} lost` : '',
    completionP99 > MAX_COMPLETION_P99_MS ? `completion p99 ${Math.round(completionP99)} ms` : '',
    drainMs > MAX_DRAIN_MS ? `drained ${Math.round(drainMs)} ms after the last arrival` : '',
  ].filter(Boolean);
  return { rate, offered, served: result.samples.filter(served).length, notAdmitted, completionP99, ackP50: ack.p50, ackP99: ack.p99, drainMs, sustained: why.length === 0, why: why.join(', ') };
}

export function printSteps(steps: readonly StepVerdict[], print: (line: string) => void): void {
  const rows = steps.map((s) => [`${s.rate}/s`, String(s.offered), String(s.served), String(s.notAdmitted), `${ms(s.ackP50)} / ${ms(s.ackP99)}`, ms(s.completionP99), `${Math.round(s.drainMs)} ms`, s.sustained ? 'yes' : `no: ${s.why}`]);
  for (const line of table(['arrival rate', 'offered', 'served', 'not admitted', 'ack p50 / p99', 'completion p99', 'drain', 'kept up'], rows)) print(line);
}

/** What one run (spike, then recovery) showed. */
export interface RunFigures {
  label: string;
  offered: number;
  skipped: number;
  admitted: number;
  shed: number;
  fallback: number;
  refusedOther: number;
  failed: number;
  lost: number;
  ackP50: number;
  ackP99: number;
  /** Calls acked at once by design (refund_order, cancel_order: ackAfterMs 0). */
  ackP99Acked: number;
  /** Lookups: their first answer is the result when it comes within the 2 s ack window; over HTTP, and said to a realtime session. */
  ackP99Lookups: number;
  ackP99RealtimeLookups: number;
  /** Lookups (both ways): send → result, whether the result was their first answer or followed an ack. */
  resultP50Lookups: number;
  resultP99Lookups: number;
  shedP50: number;
  shedP99: number;
  shedMax: number;
  /** Shed answers (429 or fallback) slower than 50 ms. */
  shedSlow: number;
  followUpRefusals: number;
  budgetOverruns: number;
  /** Served calls per second during the spike. */
  servedPerSec: number;
  /** Seconds after the spike until throughput stayed at the maximum; undefined: not within the recovery phase. */
  recoveryMs: number | undefined;
  /** Served calls per second of the recovery phase (by arrival). */
  recoverySeries: number[];
  /** Served calls per second of the spike (by arrival). */
  spikeSeries: number[];
  clientLateP99: number;
  notes: string;
}

export function figuresOf(label: string, result: PhaseResult, lost: readonly SpikeSample[], maxRate: number): RunFigures {
  const spike = result.samples.filter((s) => s.segment === 0);
  const recovery = result.samples.filter((s) => s.segment === 1);
  const all = result.samples;
  const offered = all.filter((s) => s.admission !== 'skipped');
  const admitted = all.filter((s) => s.admission === 'admitted');
  const shedAnswers = all.filter((s) => (s.admission === 'shed' || s.admission === 'fallback') && s.answerMs !== undefined).map((s) => s.answerMs!);
  const ack = summarize(admitted.flatMap((s) => (s.answerMs === undefined ? [] : [s.answerMs])));
  const shed = summarize(shedAnswers);
  const spikeMs = result.segments[0]!.durationMs;
  const perSecond = (samples: readonly SpikeSample[], startMs: number, seconds: number) =>
    Array.from({ length: seconds }, (_, i) => samples.filter((s) => s.dueMs >= startMs + i * 1000 && s.dueMs < startMs + (i + 1) * 1000 && served(s)).length);
  const spikeSeries = perSecond(spike, 0, Math.round(spikeMs / 1000));
  const recoverySeries = perSecond(recovery, spikeMs, Math.round(result.segments[1]!.durationMs / 1000));
  const threshold = RECOVERED_SHARE * maxRate;
  let from = recoverySeries.length;
  while (from > 0 && recoverySeries[from - 1]! >= threshold) from--;
  const notes = new Map<string, number>();
  for (const s of lost) notes.set(`lost: ${s.kind}, final ${s.final ? `${s.final.status} ${s.final.code ?? ''}`.trim() : 'never seen'} by its caller`, (notes.get(`lost: ${s.kind}, final ${s.final ? `${s.final.status} ${s.final.code ?? ''}`.trim() : 'never seen'} by its caller`) ?? 0) + 1);
  for (const s of all) {
    const note = s.admission === 'refused_other' || s.admission === 'failed' ? `${s.admission}: ${s.note}` : s.followUpRefusals.length ? `follow-up refused: ${s.followUpRefusals[0]}` : undefined;
    if (note) notes.set(note, (notes.get(note) ?? 0) + 1);
  }
  return {
    label,
    offered: offered.length,
    skipped: all.length - offered.length,
    admitted: admitted.length,
    shed: all.filter((s) => s.admission === 'shed').length,
    fallback: all.filter((s) => s.admission === 'fallback').length,
    refusedOther: all.filter((s) => s.admission === 'refused_other').length,
    failed: all.filter((s) => s.admission === 'failed').length,
    lost: lost.length,
    ackP50: ack.p50,
    ackP99: ack.p99,
    ackP99Acked: summarize(admitted.flatMap((s) => (s.answerMs !== undefined && !s.kind.includes('lookup') ? [s.answerMs] : []))).p99,
    ackP99Lookups: summarize(admitted.flatMap((s) => (s.answerMs !== undefined && s.kind === 'lookup' ? [s.answerMs] : []))).p99,
    resultP50Lookups: summarize(admitted.flatMap((s) => (s.finalMs !== undefined && s.kind.includes('lookup') ? [s.finalMs] : []))).p50,
    resultP99Lookups: summarize(admitted.flatMap((s) => (s.finalMs !== undefined && s.kind.includes('lookup') ? [s.finalMs] : []))).p99,
    ackP99RealtimeLookups: summarize(admitted.flatMap((s) => (s.answerMs !== undefined && s.kind === 'realtime_lookup' ? [s.answerMs] : []))).p99,
    shedP50: shed.p50,
    shedP99: shed.p99,
    shedMax: shed.max,
    shedSlow: shedAnswers.filter((m) => m > TARGETS.shedP99Ms).length,
    followUpRefusals: all.reduce((n, s) => n + s.followUpRefusals.length, 0),
    budgetOverruns: all.filter(overran).length,
    servedPerSec: spike.filter(served).length / (spikeMs / 1000),
    recoveryMs: recoverySeries.length && from < recoverySeries.length ? from * 1000 : undefined,
    recoverySeries,
    spikeSeries,
    clientLateP99: summarize(all.map((s) => s.lateMs)).p99,
    notes: [...notes].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([n, c]) => `${c}× ${n}`).join('; '),
  };
}

const num = (n: number) => (Number.isFinite(n) ? String(n) : 'n/a');
const ratioOf = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : a === b ? '1×' : 'n/a');
const pass = (met: boolean) => (met ? 'PASS' : 'MISS');
const seconds = (v: number | undefined) => (v === undefined ? 'not back' : `${(v / 1000).toFixed(0)} s`);

/** Both runs side by side: the figure, adaptive/off, and each run's verdict on the targets. */
export function printSideBySide(a: RunFigures, b: RunFigures, print: (line: string) => void): void {
  const row = (name: string, va: string, vb: string, ratio: string, ta = '', tb = '') => [name, va, vb, ratio, ta, tb];
  const z = (n: number) => n === 0;
  const rows = [
    row('offered (sent)', num(a.offered), num(b.offered), ratioOf(a.offered, b.offered)),
    row('not sent: no realtime session free', num(a.skipped), num(b.skipped), ''),
    row('admitted', num(a.admitted), num(b.admitted), ratioOf(a.admitted, b.admitted)),
    row('shed: 429 RATE_LIMITED', num(a.shed), num(b.shed), ''),
    row('shed: lookup answered by its fallback', num(a.fallback), num(b.fallback), ''),
    row('refused otherwise / client errors', `${a.refusedOther} / ${a.failed}`, `${b.refusedOther} / ${b.failed}`, ''),
    row('lost (admitted, no final envelope)', num(a.lost), num(b.lost), '', pass(z(a.lost)), pass(z(b.lost))),
    row('ack p50 of admitted', ms(a.ackP50), ms(b.ackP50), ratioOf(a.ackP50, b.ackP50)),
    row('ack p99 of admitted (≤ 100 ms)', ms(a.ackP99), ms(b.ackP99), ratioOf(a.ackP99, b.ackP99), pass(a.ackP99 <= TARGETS.ackP99Ms), pass(b.ackP99 <= TARGETS.ackP99Ms)),
    row('  of which refunds, cancel_order (202 at once)', ms(a.ackP99Acked), ms(b.ackP99Acked), ratioOf(a.ackP99Acked, b.ackP99Acked)),
    row('  of which lookups over HTTP (200 with the result, or 202)', ms(a.ackP99Lookups), ms(b.ackP99Lookups), ratioOf(a.ackP99Lookups, b.ackP99Lookups)),
    row('  of which lookups in realtime sessions', ms(a.ackP99RealtimeLookups), ms(b.ackP99RealtimeLookups), ratioOf(a.ackP99RealtimeLookups, b.ackP99RealtimeLookups)),
    row('lookups: send → result p50 / p99', `${ms(a.resultP50Lookups)} / ${ms(a.resultP99Lookups)}`, `${ms(b.resultP50Lookups)} / ${ms(b.resultP99Lookups)}`, ratioOf(a.resultP99Lookups, b.resultP99Lookups)),
    row('shed answer p50', ms(a.shedP50), ms(b.shedP50), ''),
    row('shed answer p99 (≤ 50 ms)', ms(a.shedP99), ms(b.shedP99), '', a.shed + a.fallback ? pass(a.shedP99 <= TARGETS.shedP99Ms) : 'n/a', b.shed + b.fallback ? pass(b.shedP99 <= TARGETS.shedP99Ms) : 'n/a'),
    row('shed answer max / over 50 ms', `${ms(a.shedMax)} / ${a.shedSlow}`, `${ms(b.shedMax)} / ${b.shedSlow}`, ''),
    row('results/approvals/cancels refused', num(a.followUpRefusals), num(b.followUpRefusals), '', pass(z(a.followUpRefusals)), pass(z(b.followUpRefusals))),
    row('budget overruns of admitted', num(a.budgetOverruns), num(b.budgetOverruns), '', pass(z(a.budgetOverruns)), pass(z(b.budgetOverruns))),
    row('served/s during the spike', a.servedPerSec.toFixed(1), b.servedPerSec.toFixed(1), ratioOf(a.servedPerSec, b.servedPerSec)),
    row('recovery to the maximum (≤ 5 s)', seconds(a.recoveryMs), seconds(b.recoveryMs), '', pass(a.recoveryMs !== undefined && a.recoveryMs <= TARGETS.recoveryMs), pass(b.recoveryMs !== undefined && b.recoveryMs <= TARGETS.recoveryMs)),
    row('client send lateness p99', ms(a.clientLateP99), ms(b.clientLateP99), ''),
  ];
  for (const line of table(['', a.label, b.label, 'ratio', a.label, b.label], rows)) print(line);
  for (const f of [a, b]) {
    print(`  ${f.label}: served per second, spike: ${f.spikeSeries.join(' ')}`);
    print(`  ${f.label}: served per second, recovery: ${f.recoverySeries.join(' ')}`);
    if (f.notes) print(`  ${f.label}: ${f.notes}`);
  }
}
