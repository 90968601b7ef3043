/** Exit codes of the `holdline` command, documented in the README; scripts may rely on them. */
export const EXIT = {
  /** Done; for `call`, the final envelope is ok (or, without --wait, the call waits for an approval). */
  ok: 0,
  /** The call ended in an error envelope, or Holdline or the command failed while running (stderr says why). */
  failed: 1,
  /** The command line or the configuration is wrong; nothing was done. */
  usage: 2,
  /** No Holdline (or Temporal, for replay and record) answered at the address. */
  unreachable: 3,
  /** The token was refused (401) or lacks a scope (403). */
  unauthorized: 4,
  /** No such call or workflow, or it belongs to someone else. */
  notFound: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * A failure the command reports in words and ends with a code. `message`
 * says what went wrong and what to do next.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
