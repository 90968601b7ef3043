import { ms, percentile, ratio, summarize, type Summary } from '../stats';
import { summaryLine, type Row } from '../table';
import { SOURCE_KINDS, type SourceKind, type ToolSourceResult } from './index';

/** The most a tool source may add, p50, over the raw one-activity round trip plus the service's own time. */
export const ADAPTER_TARGET_MS = 2;

const LABEL: Record<SourceKind, string> = { http: 'HTTP tool', mcpHttp: 'MCP tool, Streamable HTTP', mcpStdio: 'MCP tool, stdio' };
const DIRECT_LABEL: Record<SourceKind, string> = {
  http: 'its endpoint called directly (fetch)',
  mcpHttp: 'its server called directly (SDK client)',
  mcpStdio: 'its server called directly (SDK client)',
};

/** One source's figures: its tool run each way, its service called directly. */
interface SourceFigures {
  kind: SourceKind;
  activity: Summary;
  localActivity: Summary;
  direct: Summary;
  /** Per round, the tool's time less its direct call's: what Holdline added in that round. */
  addedActivity: number[];
  addedLocal: number[];
}

/** Details lines and result rows of the tool-source scenario. */
export function toolSourceReport(r: ToolSourceResult): { details: string[]; rows: Row[] } {
  const raw = summarize(r.rawActivity);
  const rawLocal = summarize(r.rawLocalActivity);
  const typescript = summarize(r.typescript);
  const sources: SourceFigures[] = SOURCE_KINDS.map((kind) => {
    const samples = r.sources[kind];
    const less = (values: number[]) => values.map((value, round) => value - samples.direct[round]!);
    return {
      kind,
      activity: summarize(samples.activity),
      localActivity: summarize(samples.localActivity),
      direct: summarize(samples.direct),
      addedActivity: less(samples.activity),
      addedLocal: less(samples.localActivity),
    };
  });
  /** The median over rounds of (tool − direct − baseline), each difference taken within one round: steadier than a difference of p50s when load drifts. */
  const paired = (added: number[], baseline: number[]) => ms(median(added.map((value, round) => value - baseline[round]!))).padStart(9);
  const pad = ''.padEnd(44);
  const details = [
    summaryLine('tool sources: raw execute oneActivityWorkflow', raw),
    summaryLine('  raw execute oneLocalActivityWorkflow', rawLocal),
    summaryLine('TypeScript tool (activity) → 200 ok', typescript),
    ...sources.flatMap((source) => [
      summaryLine(`${LABEL[source.kind]} as an activity → 200 ok`, source.activity),
      summaryLine('  as a local activity (runAs) → 200 ok', source.localActivity),
      summaryLine(`  ${DIRECT_LABEL[source.kind]}`, source.direct),
    ]),
    `  ${pad} one fast read tool each, answered within its ack window; a round runs every path once, in sequence, all on loopback`,
    `  ${pad} adapter overhead = tool e2e p50 − direct call p50 − raw 1-activity p50 (target ≤ ${ADAPTER_TARGET_MS} ms, for the tool as a local activity);`,
    `  ${pad} over the same primitive = local-activity tool e2e p50 − direct p50 − raw 1-local-activity p50 (Holdline's own per-call cost);`,
    `  ${pad} vs TypeScript tool = activity tool e2e p50 − direct p50 − TypeScript tool e2e p50 (what the source alone adds)`,
    `  ${pad} paired within each round (median over rounds): local activity vs raw 1-activity / vs raw 1-local-activity; activity vs TypeScript tool:`,
    ...sources.map(
      (source) =>
        `  ${pad}   ${`${LABEL[source.kind]}:`.padEnd(27)} ${paired(source.addedLocal, r.rawActivity)} / ${paired(source.addedLocal, r.rawLocalActivity)}; ${paired(source.addedActivity, r.typescript)}`,
    ),
  ];
  const rows: Row[] = [
    { metric: 'TypeScript tool (activity) p50 vs raw 1-activity', holdline: ms(typescript.p50), raw: ms(raw.p50), ratio: ratio(typescript.p50, raw.p50), target: '' },
    ...sources.flatMap((source) => sourceRows(source, raw, rawLocal, typescript)),
  ];
  return { details, rows };
}

function sourceRows({ kind, activity, localActivity, direct }: SourceFigures, raw: Summary, rawLocal: Summary, typescript: Summary): Row[] {
  const label = LABEL[kind];
  const overhead = localActivity.p50 - direct.p50 - raw.p50;
  const row = (metric: string, holdline: number, baseline: number): Row => ({ metric, holdline: ms(holdline), raw: ms(baseline), ratio: ratio(holdline, baseline), target: '' });
  const added = (metric: string, value: number): Row => ({ metric, holdline: ms(value), raw: '', ratio: '', target: '' });
  return [
    row(`${label}, local activity, p50 vs raw 1-activity`, localActivity.p50, raw.p50),
    row(`${label}, local activity, p99 vs raw 1-activity`, localActivity.p99, raw.p99),
    { ...added(`${label}: adapter overhead p50`, overhead), target: `≤ ${ADAPTER_TARGET_MS} ms`, met: overhead <= ADAPTER_TARGET_MS },
    added(`${label}, local activity, over raw 1-local-activity`, localActivity.p50 - direct.p50 - rawLocal.p50),
    row(`${label}, activity, p50 vs raw 1-activity`, activity.p50, raw.p50),
    added(`${label}, activity, over raw 1-activity`, activity.p50 - direct.p50 - raw.p50),
    added(`${label}, activity, vs TypeScript tool p50`, activity.p50 - direct.p50 - typescript.p50),
  ];
}

function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}
