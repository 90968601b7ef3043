import { arch, cpus, platform, release, totalmem } from 'node:os';
import { PLAN, QUICK } from './config';
import { percent } from './cpu';
import { lost, type LoadResult } from './load';
import type { AckResult, LookupResult, ProgressResult } from './scenarios';
import { ms, ratio, summarize } from './stats';
import { summaryLine as line, table, type Row } from './table';
import type { RealtimeLatency, RealtimeLoad } from './realtime';
import type { ToolSourceResult } from './tool-sources';
import { toolSourceReport } from './tool-sources/report';

export interface BenchResults {
  cliVersion: string;
  temporalAddress: string;
  /** Share of the CPUs busy with others' work just before the run. */
  busyBefore: number;
  /** The Holdline-vs-raw scenarios and realtime; absent when the run was limited to other sections. */
  core?: CoreResults;
  /** HTTP and MCP tools vs calling their services directly; absent when not selected. */
  toolSources?: ToolSourceResult;
}

export interface CoreResults {
  ack: AckResult;
  lookup: LookupResult;
  throughput: { holdline: LoadResult; raw: LoadResult; rawLocal: LoadResult };
  progress: ProgressResult;
  realtime: { latency: RealtimeLatency; load: RealtimeLoad };
}

export function printReport(results: BenchResults, print: (line: string) => void): void {
  const { core } = results;
  const summaries = core && summarizeAll(core);
  const sources = results.toolSources && toolSourceReport(results.toolSources);
  for (const text of header(results)) print(text);
  print('');
  print('Details (latency: sequential samples after warm-up, Holdline and raw interleaved; throughput: closed loop)');
  for (const text of [...(core && summaries ? details(core, summaries) : []), ...(sources?.details ?? [])]) print(text);
  print('');
  const rows = [...(core && summaries ? resultRows(core, summaries) : []), ...(sources?.rows ?? [])];
  for (const text of table(rows)) print(text);
  const missed = rows.filter((row) => row.met === false).length;
  const judged = rows.filter((row) => row.met !== undefined).length;
  print('');
  print(`${judged - missed} of ${judged} targets met${QUICK ? ' (BENCH_QUICK=1: smoke run, counts shrunk ~5×; do not judge by these figures)' : ''}.`);
}

function summarizeAll(r: CoreResults) {
  return {
    ackHoldline: summarize(r.ack.holdline),
    ackRaw: summarize(r.ack.raw),
    httpFloor: summarize(r.ack.httpFloor),
    lookupHoldline: summarize(r.lookup.holdline),
    lookupRaw: summarize(r.lookup.rawActivity),
    lookupRawLocal: summarize(r.lookup.rawLocalActivity),
    lookupInProcess: summarize(r.lookup.inProcess),
    progress: summarize(r.progress.samples),
    realtimeAccepted: summarize(r.realtime.latency.accepted),
    realtimeFast: summarize(r.realtime.latency.fastResult),
  };
}

function header(r: BenchResults): string[] {
  const cpuList = cpus();
  return [
    `Holdline benchmark${QUICK ? ' (BENCH_QUICK=1)' : ''}`,
    `  machine:    ${cpuList.length} × ${cpuList[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()} ${arch()} ${release()}`,
    `  other load: CPUs ${percent(r.busyBefore)} busy with other work over 1 s before the run${r.busyBefore > 0.1 ? ' — NOT idle: figures are skewed' : ''}`,
    `  node:       ${process.version}`,
    `  temporal:   ${r.cliVersion}`,
    `  server:     embedded dev server on ${r.temporalAddress} (SQLite WAL, headless, tuned poll rates); all traffic on loopback`,
  ];
}

function details(r: CoreResults, s: ReturnType<typeof summarizeAll>): string[] {
  const pad = ''.padEnd(44);
  const load = (label: string, t: LoadResult) => {
    const reasons = [...t.reasons].map(([reason, n]) => `${n}× ${reason.replace(/^(error|failed):/, '')}`).join(', ');
    return [
      `  ${label.padEnd(44)} ${t.clients} clients: ${t.ok} ok, ${t.errors} errors, ${t.failed} failed in ${(t.elapsedMs / 1000).toFixed(1)} s → ${t.rate.toFixed(1)} calls/s`,
      `  ${pad} CPU: machine ${percent(t.cpu.machineBusy)} busy, bench process ${t.cpu.processCores.toFixed(2)} cores${reasons ? `; not ok: ${reasons}` : ''}`,
      ...t.notes.map((note) => `  ${pad} ${note}`),
    ];
  };
  const p = r.progress;
  return [
    line('ack: refund_order → 202 over HTTP', s.ackHoldline),
    line('ack: raw client.workflow.start', s.ackRaw),
    line('HTTP floor: POST rejected before Temporal', s.httpFloor),
    line('lookup_order → 200 ok envelope over HTTP', s.lookupHoldline),
    line('raw execute oneActivityWorkflow', s.lookupRaw),
    line('raw execute oneLocalActivityWorkflow', s.lookupRawLocal),
    line('in process: readOrder(store, acme, A-1001)', s.lookupInProcess),
    ...load('throughput: Holdline lookup_order', r.throughput.holdline),
    ...load('throughput: raw oneActivityWorkflow', r.throughput.raw),
    ...load('throughput: raw oneLocalActivityWorkflow', r.throughput.rawLocal),
    line('progress: heartbeat emitted → SSE event', s.progress),
    `  ${pad} ${p.calls} calls of bench_progress (a heartbeat every ${PLAN.progress.intervalMs} ms for ${PLAN.progress.durationMs} ms): ` +
      `${p.received} progress events for ${p.emitted} heartbeats; ${p.skipped} replayed from the stream's opening snapshot, not counted`,
    line('realtime: function call → tool_call.accepted', s.realtimeAccepted),
    line('realtime: function call → result (lookup)', s.realtimeFast),
    `  ${pad} over WebSockets: client ⇄ Holdline server process ⇄ scripted model; timed from the client's copy of the model's function_call_arguments.done`,
    ...realtimeLoadLines(r.realtime.load, pad),
  ];
}

function realtimeLoadLines(load: RealtimeLoad, pad: string): string[] {
  const trend = memoryTrend(load);
  return [
    `  ${'realtime load'.padEnd(44)} ${load.sessions} sessions for ${(load.durationMs / 1000).toFixed(0)} s: ${load.calls} calls, ${load.completed} completed${load.answeredByFallback ? ` (and ${load.answeredByFallback} from a fallback)` : ''}, ${load.failed} failed, ${load.lost} lost → ${load.callsPerSec.toFixed(1)} calls/s`,
    `  ${pad} server memory (RSS / heap after a full GC, MB): ${load.memory.map((m) => `${(m.atMs / 1000).toFixed(0)}s ${m.rssMb.toFixed(0)}/${m.heapMb.toFixed(0)}`).join(', ')}`,
    ...(trend ? [`  ${pad} warm (${(trend.warm.atMs / 1000).toFixed(0)} s) → end: RSS ${trend.warm.rssMb.toFixed(1)} → ${trend.end.rssMb.toFixed(1)} MB, heap ${trend.warm.heapMb.toFixed(1)} → ${trend.end.heapMb.toFixed(1)} MB`] : []),
  ];
}

function resultRows(r: CoreResults, s: ReturnType<typeof summarizeAll>): Row[] {
  const pair = (metric: string, h: number, raw: number, target: string, met?: boolean): Row => ({
    metric,
    holdline: ms(h),
    raw: ms(raw),
    ratio: ratio(h, raw),
    target,
    ...(met === undefined ? {} : { met }),
  });
  const { holdline: th, raw: tr } = r.throughput;
  return [
    pair('ack p50 (refund_order 202 vs raw start)', s.ackHoldline.p50, s.ackRaw.p50, '≤ raw + 3 ms', s.ackHoldline.p50 <= s.ackRaw.p50 + 3),
    pair('ack p99 (refund_order 202 vs raw start)', s.ackHoldline.p99, s.ackRaw.p99, '≤ 40 ms', s.ackHoldline.p99 <= 40),
    pair('ack p50 less HTTP floor p50 (indicative)', s.ackHoldline.p50 - s.httpFloor.p50, s.ackRaw.p50, ''),
    pair('lookup e2e p50 vs raw 1-activity', s.lookupHoldline.p50, s.lookupRaw.p50, '≤ 1.0× raw', s.lookupHoldline.p50 <= s.lookupRaw.p50),
    pair('lookup e2e p99 vs raw 1-activity', s.lookupHoldline.p99, s.lookupRaw.p99, ''),
    pair('lookup e2e p50 vs raw 1-local-activity', s.lookupHoldline.p50, s.lookupRawLocal.p50, ''),
    pair('lookup e2e p50 vs in-process readOrder', s.lookupHoldline.p50, s.lookupInProcess.p50, ''),
    {
      metric: `throughput, ${th.clients} clients (calls/s)`,
      holdline: th.rate.toFixed(1),
      raw: tr.rate.toFixed(1),
      ratio: ratio(th.rate, tr.rate),
      target: '≥ 0.9× raw',
      met: th.rate >= 0.9 * tr.rate,
    },
    {
      metric: 'throughput vs raw 1-local-activity',
      holdline: th.rate.toFixed(1),
      raw: r.throughput.rawLocal.rate.toFixed(1),
      ratio: ratio(th.rate, r.throughput.rawLocal.rate),
      target: '',
    },
    { metric: 'lost calls under load', holdline: String(lost(th)), raw: String(lost(tr)), ratio: '', target: '0', met: lost(th) === 0 },
    { metric: 'progress p50 (heartbeat → SSE)', holdline: ms(s.progress.p50), raw: 'n/a', ratio: '', target: '' },
    { metric: 'progress p95 (heartbeat → SSE)', holdline: ms(s.progress.p95), raw: 'n/a', ratio: '', target: '≤ 300 ms', met: s.progress.p95 <= 300 },
    ...realtimeRows(r, s),
  ];
}

/** Memory at the first sample past a fifth of the run (warm) and at the end. */
export function memoryTrend(load: RealtimeLoad): { warm: RealtimeLoad['memory'][number]; end: RealtimeLoad['memory'][number] } | undefined {
  const warm = load.memory.find((m) => m.atMs >= load.durationMs / 5);
  const end = load.memory.at(-1);
  return warm && end ? { warm, end } : undefined;
}

function realtimeRows(r: CoreResults, s: ReturnType<typeof summarizeAll>): Row[] {
  const load = r.realtime.load;
  const trend = memoryTrend(load);
  const growth = trend ? trend.end.rssMb / trend.warm.rssMb : Number.NaN;
  const heapGrowth = trend ? trend.end.heapMb / trend.warm.heapMb : Number.NaN;
  return [
    {
      metric: 'realtime accepted p50 vs raw start',
      holdline: ms(s.realtimeAccepted.p50),
      raw: ms(s.ackRaw.p50),
      ratio: ratio(s.realtimeAccepted.p50, s.ackRaw.p50),
      target: '≤ raw + 5 ms',
      met: s.realtimeAccepted.p50 <= s.ackRaw.p50 + 5,
    },
    { metric: 'realtime accepted p99', holdline: ms(s.realtimeAccepted.p99), raw: ms(s.ackRaw.p99), ratio: ratio(s.realtimeAccepted.p99, s.ackRaw.p99), target: '≤ 40 ms', met: s.realtimeAccepted.p99 <= 40 },
    {
      metric: 'realtime fast result p50 vs raw 1-activity',
      holdline: ms(s.realtimeFast.p50),
      raw: ms(s.lookupRaw.p50),
      ratio: ratio(s.realtimeFast.p50, s.lookupRaw.p50),
      target: '≤ 1.1× raw',
      met: s.realtimeFast.p50 <= 1.1 * s.lookupRaw.p50,
    },
    { metric: `realtime, ${load.sessions} sessions (calls/s)`, holdline: load.callsPerSec.toFixed(1), raw: '', ratio: '', target: '' },
    { metric: 'realtime lost calls', holdline: String(load.lost), raw: '', ratio: '', target: '0', met: load.lost === 0 },
    {
      metric: 'realtime server heap after GC, warm → end',
      holdline: trend ? `${trend.warm.heapMb.toFixed(0)} → ${trend.end.heapMb.toFixed(0)} MB` : 'n/a',
      raw: '',
      ratio: Number.isFinite(heapGrowth) ? `${heapGrowth.toFixed(2)}×` : '',
      target: 'flat (≤ 1.10×)',
      met: heapGrowth <= 1.1,
    },
    {
      metric: 'realtime server RSS, warm → end',
      holdline: trend ? `${trend.warm.rssMb.toFixed(0)} → ${trend.end.rssMb.toFixed(0)} MB` : 'n/a',
      raw: '',
      ratio: Number.isFinite(growth) ? `${growth.toFixed(2)}×` : '',
      target: '',
    },
  ];
}
