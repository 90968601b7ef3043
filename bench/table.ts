import { ms, type Summary } from './stats';

/** One line of a results table: Holdline's figure, the raw one, and the target if there is one. */
export interface Row {
  metric: string;
  holdline: string;
  raw: string;
  ratio: string;
  target: string;
  /** undefined: informative only. */
  met?: boolean;
}

/** The rows as aligned text: a heading, a rule, one line per row ending in its verdict. */
export function table(rows: readonly Row[], columns: Partial<Pick<Row, 'holdline' | 'raw' | 'ratio'>> = {}): string[] {
  const headings: Row = { metric: 'Results', holdline: 'Holdline', raw: 'raw', ratio: 'Holdline/raw', ...columns, target: 'target', met: undefined };
  const cells = (row: Row) => [row.metric, row.holdline, row.raw, row.ratio, row.target, row === headings ? '' : verdict(row.met)];
  const all = [headings, ...rows].map(cells);
  const widths = all[0]!.map((_, column) => Math.max(...all.map((line) => line[column]!.length)));
  const format = (line: string[]) =>
    line.map((cell, column) => (column === 0 || column >= 4 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ').trimEnd();
  const rule = widths.map((width) => '─'.repeat(width)).join('  ');
  return [format(all[0]!), rule, ...all.slice(1).map(format)];
}

function verdict(met: boolean | undefined): string {
  return met === undefined ? '' : met ? 'met' : 'MISSED';
}

/** One details line: a label and a latency summary. */
export function summaryLine(label: string, summary: Summary): string {
  return `  ${label.padEnd(44)} n=${String(summary.n).padEnd(4)} p50 ${ms(summary.p50).padStart(10)}  p95 ${ms(summary.p95).padStart(10)}  p99 ${ms(summary.p99).padStart(10)}  max ${ms(summary.max).padStart(10)}`;
}
