import { ms, percentile, ratio, summarize, type Summary } from '../stats';
import { summaryLine, type Row } from '../table';
import type { ToolSourceResult } from './index';

/** The most a tool source may add, p50, over the raw one-activity round trip plus the service's own time. */
export const ADAPTER_TARGET_MS = 2;

interface SourceFigures {
  label: string;
  holdline: Summary;
  direct: Summary;
  /** Per round, the tool's time less its direct call's: what Holdline added in that round. */
  added: number[];
}

/** Details lines and result rows of the tool-source scenario. */
export function toolSourceReport(r: ToolSourceResult): { details: string[]; rows: Row[] } {
  const raw = summarize(r.rawActivity);
  const typescript = summarize(r.typescript);
  const figures = (label: string, holdline: number[], direct: number[]): SourceFigures => ({
    label,
    holdline: summarize(holdline),
    direct: summarize(direct),
    added: holdline.map((value, round) => value - direct[round]!),
  });
  const sources = [
    figures('HTTP tool', r.http, r.httpDirect),
    figures('MCP tool, Streamable HTTP', r.mcpHttp, r.mcpHttpDirect),
    figures('MCP tool, stdio', r.mcpStdio, r.mcpStdioDirect),
  ];
  /** The median over rounds of (tool − direct − baseline), each difference taken within one round: steadier than a difference of p50s when load drifts. */
  const paired = (added: number[], baseline: number[]) => ms(median(added.map((value, round) => value - baseline[round]!)));
  const pad = ''.padEnd(44);
  const details = [
    summaryLine('tool sources: raw execute oneActivityWorkflow', raw),
    summaryLine('TypeScript tool (activity) → 200 ok', typescript),
    summaryLine('HTTP tool → 200 ok envelope over HTTP', sources[0]!.holdline),
    summaryLine('  its endpoint called directly (fetch)', sources[0]!.direct),
    summaryLine('MCP tool, Streamable HTTP → 200 ok', sources[1]!.holdline),
    summaryLine('  its server called directly (SDK client)', sources[1]!.direct),
    summaryLine('MCP tool, stdio → 200 ok', sources[2]!.holdline),
    summaryLine('  its server called directly (SDK client)', sources[2]!.direct),
    `  ${pad} one fast read tool each, answered within its ack window; a round runs every path once, in sequence, all on loopback`,
    `  ${pad} adapter overhead = tool e2e p50 − direct call p50 − raw 1-activity p50 (target ≤ ${ADAPTER_TARGET_MS} ms);`,
    `  ${pad} vs TypeScript tool = tool e2e p50 − direct call p50 − TypeScript tool e2e p50 (what the source alone adds)`,
    `  ${pad} the same, paired within each round (median over rounds), vs raw 1-activity / vs TypeScript tool:`,
    ...sources.map((source) => `  ${pad}   ${`${source.label}:`.padEnd(27)} ${paired(source.added, r.rawActivity).padStart(9)} / ${paired(source.added, r.typescript).padStart(9)}`),
  ];
  const rows: Row[] = [
    { metric: 'TypeScript tool (activity) p50 vs raw 1-activity', holdline: ms(typescript.p50), raw: ms(raw.p50), ratio: ratio(typescript.p50, raw.p50), target: '' },
    ...sources.flatMap((source) => sourceRows(source, raw, typescript)),
  ];
  return { details, rows };
}

function sourceRows({ label, holdline, direct }: SourceFigures, raw: Summary, typescript: Summary): Row[] {
  const overhead = holdline.p50 - direct.p50 - raw.p50;
  const overSource = holdline.p50 - direct.p50 - typescript.p50;
  return [
    { metric: `${label} p50 vs raw 1-activity`, holdline: ms(holdline.p50), raw: ms(raw.p50), ratio: ratio(holdline.p50, raw.p50), target: '' },
    { metric: `${label} p99 vs raw 1-activity`, holdline: ms(holdline.p99), raw: ms(raw.p99), ratio: ratio(holdline.p99, raw.p99), target: '' },
    { metric: `${label}: adapter overhead p50`, holdline: ms(overhead), raw: '', ratio: '', target: `≤ ${ADAPTER_TARGET_MS} ms`, met: overhead <= ADAPTER_TARGET_MS },
    { metric: `${label}: vs TypeScript tool p50`, holdline: ms(overSource), raw: '', ratio: '', target: '' },
  ];
}

function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}
