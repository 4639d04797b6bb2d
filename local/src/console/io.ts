/** Where a command writes: stdout and stderr in the CLI, buffers in tests. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /**
   * Rewrites the current line of a terminal in place (live status); absent when stdout is not a terminal, in which
   * case live output falls back to plain lines through `out`.
   */
  overwrite?(text: string): void;
}

/** The process's streams. */
export const processIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  ...(process.stdout.isTTY
    ? { overwrite: (text: string) => process.stdout.write(`\r\x1b[2K${text.slice(0, Math.max(20, (process.stdout.columns ?? 120) - 1))}`) }
    : {}),
};
