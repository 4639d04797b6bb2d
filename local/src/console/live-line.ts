import type { Io } from './io';

/**
 * One line of live status: rewritten in place on a terminal; elsewhere (pipes, CI logs, tests) printed as plain
 * lines, only when it changed and at most once per `plainEveryMs`, so a log file does not fill with repeats.
 */
export class LiveLine {
  #printedKey = '';
  #pending = '';
  #pendingKey = '';
  #printedAt = 0;
  #onTerminal = false;

  constructor(
    private readonly io: Io,
    private readonly plainEveryMs = 5_000,
  ) {}

  /**
   * Shows `text` as the current status. `key` is what counts as a change for plain lines (default the text itself;
   * a text with a clock in it passes the status without the clock).
   */
  update(text: string, key = text): void {
    if (this.io.overwrite) {
      this.io.overwrite(text);
      this.#onTerminal = true;
      return;
    }
    this.#pending = text;
    this.#pendingKey = key;
    const now = Date.now();
    if (key !== this.#printedKey && now - this.#printedAt >= this.plainEveryMs) this.#print(now);
  }

  /** Removes the live line from a terminal (plain lines already printed stay). */
  clear(): void {
    if (this.#onTerminal) this.io.overwrite?.('');
    this.#onTerminal = false;
    this.#pending = '';
    this.#pendingKey = '';
  }

  /** Ends the live line: the last status stays visible (terminal) or is printed if it had not been yet (plain). */
  end(): void {
    if (this.#onTerminal) {
      this.io.out('');
      this.#onTerminal = false;
      return;
    }
    if (this.#pending && this.#pendingKey !== this.#printedKey) this.#print(Date.now());
  }

  #print(now: number): void {
    this.io.out(this.#pending);
    this.#printedKey = this.#pendingKey;
    this.#printedAt = now;
  }
}

/**
 * Several lines of live status (`status --watch`): on a terminal the block is redrawn in place (the cursor goes
 * back up over the previous block, which is cleared); elsewhere each block is printed when it changed, after a blank
 * line, so a log shows every distinct state once.
 */
export class LiveBlock {
  #shown = 0;
  #printedKey: string | undefined;

  constructor(private readonly io: Io) {}

  /** Shows `lines` as the current block; `key` is what counts as a change for plain output (default the text). */
  update(lines: readonly string[], key = lines.join('\n')): void {
    if (this.io.overwrite) {
      const back = this.#shown > 0 ? `\x1b[${this.#shown}F\x1b[J` : '';
      this.io.out(`${back}${lines.join('\n')}`);
      this.#shown = lines.length;
      return;
    }
    if (key === this.#printedKey) return;
    if (this.#printedKey !== undefined) this.io.out('');
    this.io.out(lines.join('\n'));
    this.#printedKey = key;
  }
}
