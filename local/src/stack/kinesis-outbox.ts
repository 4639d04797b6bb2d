/**
 * An in-memory, ordered, never-dropping queue of records bound for Kinesis.
 *
 * Kinesis' PutRecords may fail some records and keep others, so two records for one partition key in one request
 * could land out of order after a retry. Each request therefore carries at most one record per partition key, and
 * only successes leave the queue: a failed record stays ahead of its successors and is retried until it lands.
 */
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { backoffMs } from './backoff';

/** A record waiting to be put. */
export interface OutboxRecord {
  streamName: string;
  partitionKey: string;
  data: Uint8Array;
  /** The record's id in the capture journal, handed back to `onDelivered`. */
  journalId?: number;
}

/** Counters of the outbox, for status lines and tests. */
export interface OutboxStats {
  /** Records Kinesis accepted. */
  emitted: number;
  /** Records waiting (including ones being sent). */
  pending: number;
  /** PutRecords calls that failed whole or in part and were retried. */
  retries: number;
  /** Last failure (error name and message from Kinesis; never record contents). */
  lastError?: string;
}

/** Raised by `close()` when records could not be delivered before its deadline. */
export class OutboxUndeliveredError extends Error {
  override readonly name = 'OutboxUndeliveredError';
  constructor(readonly pending: number) {
    super(`${pending} capture record(s) were not delivered to Kinesis before shutdown`);
  }
}

export interface OutboxOptions {
  /** Records per PutRecords call (Kinesis allows 500). */
  maxBatch?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called with the records of each PutRecords call that Kinesis accepted (the capture journal's acknowledgement). */
  onDelivered?: (records: readonly OutboxRecord[]) => void;
}

const MAX_SCAN = 5_000;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** See the module comment. */
export class KinesisOutbox {
  private queue: OutboxRecord[] = [];
  private sending = false;
  private closed = false;
  private abandoned = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly counters = { emitted: 0, retries: 0, lastError: undefined as string | undefined };
  private readonly maxBatch: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly onDelivered: ((records: readonly OutboxRecord[]) => void) | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private wakeBackoff: (() => void) | undefined;

  constructor(
    private client: KinesisClient,
    options: OutboxOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.retryBaseMs = options.retryBaseMs ?? 25;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
    this.onDelivered = options.onDelivered;
  }

  /** Queues a record; the caller's order is the order per partition key on the stream. */
  enqueue(record: OutboxRecord): void {
    if (this.closed) throw new Error('KinesisOutbox is closed');
    this.queue.push(record);
    if (!this.sending) void this.drain();
  }

  get stats(): OutboxStats {
    return { emitted: this.counters.emitted, pending: this.queue.length, retries: this.counters.retries, lastError: this.counters.lastError };
  }

  /** Resolves once every record queued so far has been accepted by Kinesis. */
  flush(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Puts with `client` from now on (the stream's endpoint changed: a restarted stack). A request in flight finishes
   * with the client it started with; a failed one is retried with this one.
   */
  useClient(client: KinesisClient): void {
    this.client = client;
  }

  /**
   * Drops everything at once, as a killed process would: the queue is emptied without a put, no more records are
   * accepted, and a request in flight is forgotten (its records may or may not have landed). Whoever journaled the
   * records puts them again after a restart.
   */
  abandon(): void {
    this.closed = true;
    this.abandoned = true;
    this.queue = [];
    this.stopBackoff();
    this.releaseWaiters();
  }

  /** Stops accepting records and waits up to `timeoutMs` for the queue to drain. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([this.flush().then(() => 'drained' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const pending = this.queue.length;
      this.queue = [];
      this.stopBackoff();
      this.releaseWaiters();
      throw new OutboxUndeliveredError(pending);
    }
  }

  private async drain(): Promise<void> {
    this.sending = true;
    let attempt = 0;
    try {
      while (this.queue.length > 0) {
        const batch = this.nextBatch();
        const ok = await this.send(batch);
        if (ok) {
          attempt = 0;
        } else {
          attempt += 1;
          this.counters.retries += 1;
          await this.backoff(backoffMs(attempt + 1, { baseMs: this.retryBaseMs, maxMs: this.retryMaxMs }));
        }
      }
    } finally {
      this.sending = false;
      if (this.queue.length === 0) this.releaseWaiters();
    }
  }

  /** Picks records for one request: one stream, at most one per partition key, queue order kept. */
  private nextBatch(): OutboxRecord[] {
    const first = this.queue[0]!;
    const keys = new Set<string>();
    const batch: OutboxRecord[] = [];
    let bytes = 0;
    const scan = Math.min(this.queue.length, MAX_SCAN);
    for (let i = 0; i < scan && batch.length < this.maxBatch; i++) {
      const record = this.queue[i]!;
      if (record.streamName !== first.streamName) continue;
      if (keys.has(record.partitionKey)) continue;
      // Later records of a skipped key are skipped too (the key is marked), which keeps per-key order.
      keys.add(record.partitionKey);
      const size = record.data.length + record.partitionKey.length;
      if (batch.length > 0 && bytes + size > MAX_REQUEST_BYTES) break;
      bytes += size;
      batch.push(record);
    }
    return batch;
  }

  /** Sends one batch; returns true when every record landed. Successes leave the queue either way. */
  private async send(batch: OutboxRecord[]): Promise<boolean> {
    let landed: Set<OutboxRecord>;
    try {
      const reply = await this.client.send(
        new PutRecordsCommand({
          StreamName: batch[0]!.streamName,
          Records: batch.map((r) => ({ PartitionKey: r.partitionKey, Data: r.data })),
        }),
      );
      landed = new Set(batch.filter((_, i) => !reply.Records?.[i]?.ErrorCode));
      const failed = batch.length - landed.size;
      if (failed > 0) {
        const firstError = reply.Records?.find((r) => r.ErrorCode);
        this.counters.lastError = `${firstError?.ErrorCode}: ${failed} record(s) not accepted`;
      }
    } catch (error) {
      const e = error as Error;
      this.counters.lastError = `${e.name}: ${e.message}`;
      return false;
    }
    // A killed owner acknowledges nothing: what landed meanwhile is put again after the restart (same bytes).
    if (this.abandoned) return true;
    this.counters.emitted += landed.size;
    if (landed.size > 0) {
      this.queue = this.queue.filter((r) => !landed.has(r));
      try {
        this.onDelivered?.([...landed]);
      } catch (error) {
        // Not acknowledged in the journal: the next start puts them again (same eventID; the pipeline tolerates it).
        this.counters.lastError = `acknowledging delivered records: ${(error as Error).message}`;
      }
    }
    return landed.size === batch.length;
  }

  private backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(resolve, ms);
    });
  }

  private stopBackoff(): void {
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.wakeBackoff?.();
  }

  private releaseWaiters(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
