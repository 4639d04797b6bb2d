/**
 * The harness's one reader of the stream. The checks ask what is on the stream several times a run (every record
 * acknowledged, while draining and again at the end; the ledger; the copies a kill left); at a million records each
 * full read from kinesalite took minutes. The tail reads each record once: a later read starts after the last
 * sequence number it saw on each shard, and whoever needs every record subscribes before the first read.
 */
import { GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { GetRecords } from '../stack/kinesis-get-records';

/** What the tail reads through: a running stack is one. */
export interface TailedStream {
  readonly resources: { readonly stream: { readonly name: string; readonly shardIds: readonly string[] } };
  readonly clients: { readonly kinesis: KinesisClient };
  readonly getRecords: GetRecords;
}

/** One record as the harness reads it back. */
export interface TailRecord {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: Buffer;
}

/** `shardId:sequenceNumber`: a record's identity, as the fault injector counts acknowledgements. */
export const recordId = (shardId: string, sequenceNumber: string): string => `${shardId}:${sequenceNumber}`;

/** Thrown when a visitor subscribes after records were read (it would miss them). */
export class LateSubscriberError extends Error {
  override readonly name = 'LateSubscriberError';
}

/** Reads the stream forward from where it stopped, shard by shard; each record is read and visited once. */
export class StreamTail {
  /** The id of every record read so far. */
  readonly ids = new Set<string>();
  /** The same ids in the order they were read, so a reader can go on from where it was (see acknowledgedProbe). */
  readonly #order: string[] = [];
  readonly #after = new Map<string, string>();
  readonly #visitors: ((record: TailRecord) => void)[] = [];
  #reading: Promise<unknown> = Promise.resolve();

  /** `visit` sees every record, in stream order per shard; only before the first read. */
  subscribe(visit: (record: TailRecord) => void): void {
    if (this.ids.size > 0) throw new LateSubscriberError('subscribe to the stream tail before its first read');
    this.#visitors.push(visit);
  }

  /**
   * Reads what was added since the last read (one read at a time; a second caller waits for the first) and returns
   * the new records' ids. A read cut by a stack kill keeps what it read: the next starts after it.
   */
  catchUp(stack: TailedStream): Promise<string[]> {
    const read = this.#reading.then(() => this.#read(stack));
    this.#reading = read.catch(() => undefined);
    return read;
  }

  async #read(stack: TailedStream): Promise<string[]> {
    const added: string[] = [];
    const signal = new AbortController().signal;
    for (const shardId of stack.resources.stream.shardIds) {
      let iterator = await this.#iterator(stack, shardId);
      while (iterator) {
        // The poller's reader (JSON to the stack's kinesalite), 10,000 records a call.
        const reply = await stack.getRecords(iterator, 10_000, signal);
        for (const { sequenceNumber, partitionKey, dataBase64 } of reply.records) {
          const id = recordId(shardId, sequenceNumber);
          this.ids.add(id);
          this.#order.push(id);
          this.#after.set(shardId, sequenceNumber);
          added.push(id);
          const record = { shardId, sequenceNumber, partitionKey, data: Buffer.from(dataBase64, 'base64') };
          for (const visit of this.#visitors) visit(record);
        }
        if (reply.records.length === 0 && (reply.millisBehindLatest ?? 0) === 0) break;
        iterator = reply.nextShardIterator;
      }
    }
    return added;
  }

  /** The ids read from position `from` on (positions count every record read, whichever call read it). */
  idsFrom(from: number): string[] {
    return this.#order.slice(from);
  }

  async #iterator(stack: TailedStream, shardId: string): Promise<string | undefined> {
    const after = this.#after.get(shardId);
    const { ShardIterator } = await stack.clients.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: stack.resources.stream.name,
        ShardId: shardId,
        ...(after === undefined ? { ShardIteratorType: 'TRIM_HORIZON' } : { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }),
      }),
    );
    return ShardIterator;
  }
}

/**
 * "Every record on the stream acknowledged by the transform", asked again and again while draining: the records not
 * yet seen acknowledged are kept, so each probe reads only the new ones and looks up only those still open.
 */
export function acknowledgedProbe(tail: StreamTail, acked: ReadonlySet<string>): (stack: TailedStream) => Promise<boolean> {
  const open = new Set<string>();
  let seen = 0;
  return async (stack) => {
    try {
      await tail.catchUp(stack);
    } finally {
      // Also after a read a kill cut: what it read before the cut is on the stream, and must be acknowledged too.
      const fresh = tail.idsFrom(seen);
      seen += fresh.length;
      for (const id of fresh) open.add(id);
    }
    for (const id of open) if (acked.has(id)) open.delete(id);
    return open.size === 0;
  };
}
