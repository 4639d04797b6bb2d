/**
 * Async mutual exclusion per string key. The capture holds the keys a write touches from its "read old image" to its
 * "read new image", so no other write to the same item can slip between and make the images inconsistent.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` while holding every key in `keys` (acquired in sorted order, so two multi-key writes cannot deadlock). */
  async withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const key of unique) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Keys currently held or waited for (0 when idle). */
  get size(): number {
    return this.tails.size;
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
