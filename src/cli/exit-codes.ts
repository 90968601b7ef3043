/** Exit codes of the `holdline` command, documented in the README; scripts may rely on them. */
export const EXIT = {
  ok: 0,
  /** Holdline, or the command, failed while running (it says why on stderr). */
  failed: 1,
  /** The command line or the configuration is wrong; nothing was done. */
  usage: 2,
} as const;
