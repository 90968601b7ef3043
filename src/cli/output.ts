import { CliError, EXIT } from './exit-codes';

/** Machine output: one JSON object per line on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** A plain text table: a header row, columns padded to their widest cell. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const format = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  printLine(format(header));
  for (const row of rows) printLine(format(row));
}

export function durationText(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/**
 * Runs a command's action: a `CliError` ends the process with its code and its
 * words on stderr; anything else is a failure (exit 1).
 */
export function action<A extends unknown[]>(run: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: number;
    try {
      code = (await run(...args)) ?? EXIT.ok;
    } catch (error) {
      const known = error instanceof CliError;
      process.stderr.write(`holdline: ${(error as Error).message}\n`);
      code = known ? error.exitCode : EXIT.failed;
    }
    process.exitCode = code;
    // Open sockets (a keep-alive agent, a Temporal connection) must not hold the exit.
    process.exit(code);
  };
}
