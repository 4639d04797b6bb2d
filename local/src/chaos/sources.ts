/**
 * Where the workload's changes enter the pipeline, and the ledger of what entered (what the checks expect).
 *
 * - {@link DynamoDbSource}: writes go to DynamoDB through the stack's capture, exactly as an application's would; the
 *   capture turns each into a stream record. The ledger is read back from the stream afterwards.
 * - {@link DirectSource}: DynamoDB is taken out of the hot path. The harness keeps the items itself (the workload
 *   model) and puts the record DynamoDB's Kinesis streaming destination would write — built by the shared builder,
 *   same partition key, same per-item order, microsecond timestamps (or, with `precision-switch`, stretches of
 *   millisecond ones and ones without the precision field) — straight onto the stream.
 *
 * Both go through the same stream, pollers, handlers, queues and warehouse.
 */
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { marshall } from '@aws-sdk/util-dynamodb';
import { buildChangeRecord, partitionKeyFor, type DynamoDBKinesisRecord, type EventName } from '@claims-cdc/shared';
import { randomBytes } from 'node:crypto';
import { MonotonicMicros, type RunningStack } from '../stack';
import { canonicalKey, itemSizeBytes } from '../stack/dynamodb-wire';
import { KinesisOutbox } from '../stack/kinesis-outbox';
import { poisonBytes } from './poison';
import { expectedMicros, precisionOf, type PrecisionSwitch } from './precision';
import { OVERSIZED_ATTRIBUTE, POISON_KINDS, type ChangeOp, type PoisonOp } from './workload';

/** What entered the stream, and so what the pipeline must end up with. */
export interface Ledger {
  /** Change records on the stream (one per item change). */
  changeRecords: number;
  byEventName: Record<EventName, number>;
  /** Event ids history must hold, each once: every change record except the quarantined ones. */
  historyIds: Set<string>;
  /** Inputs that must be quarantined: reason and the exact base64 payload. */
  quarantined: { reason: string; payload: string; what: string }[];
  /** Per removed claim, the event id of its REMOVE (the tombstone must name it). */
  removeEventIds: Map<string, string>;
  /** Per claim, its newest change that is not quarantined: the event the destination row must carry. */
  newest: Map<string, NewestEvent>;
}

/** The event columns a destination row must hold. */
export interface NewestEvent {
  eventId: string;
  eventName: EventName;
  /** ApproximateCreationDateTime in microseconds (scaled from milliseconds when the record says so), as text. */
  micros: string;
  /** Kinesis sequence number, when the ledger read it from the stream. */
  sequenceNumber?: string;
}

const emptyLedger = (): Ledger => ({
  changeRecords: 0,
  byEventName: { INSERT: 0, MODIFY: 0, REMOVE: 0 },
  historyIds: new Set(),
  quarantined: [],
  removeEventIds: new Map(),
  newest: new Map(),
});

/** A source of change events. */
export interface Source {
  /** Applies one change (may return before it is written; `finish` waits for all). */
  apply(op: ChangeOp): Promise<void>;
  /** Waits until every change is on the stream. */
  finish(): Promise<void>;
  /** Change records on the stream so far (after `finish`: all of them). */
  recordsOnStream(): number;
  /** The ledger of what entered the stream (after `finish`). */
  ledger(): Promise<Ledger>;
  /** Releases what the source holds (not the stack). */
  close(): Promise<void>;
}

const partitionKeyOf = (tableName: string, record: DynamoDBKinesisRecord): string => partitionKeyFor(`${tableName}\u0000${canonicalKey(record.dynamodb.Keys)}`);

/** Writes through DynamoDB (the capture proxy), `writers` at a time, in order per claim. */
export class DynamoDbSource implements Source {
  #inFlight = 0;
  readonly #waiters: (() => void)[] = [];
  readonly #tails = new Map<string, Promise<void>>();
  #error: unknown;

  constructor(
    private readonly stack: RunningStack,
    private readonly writers: number,
    private readonly poisonSequenceNumbers: () => ReadonlySet<string>,
    /** With `precision-switch`: how the transform receives the capture's records (the ledger must expect the same). */
    private readonly precision?: PrecisionSwitch,
  ) {}

  async apply(op: ChangeOp): Promise<void> {
    if (this.#error) throw this.#error;
    while (this.#inFlight >= this.writers) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#inFlight += 1;
    const previous = this.#tails.get(op.claimId) ?? Promise.resolve();
    const tail: Promise<void> = previous
      .then(() => this.#write(op))
      .catch((error: unknown) => {
        this.#error ??= error;
      })
      .finally(() => {
        this.#inFlight -= 1;
        this.#waiters.shift()?.();
        if (this.#tails.get(op.claimId) === tail) this.#tails.delete(op.claimId);
      });
    this.#tails.set(op.claimId, tail);
  }

  async #write(op: ChangeOp): Promise<void> {
    const TableName = this.stack.resources.table.name;
    const Key = marshall({ claim_id: op.claimId });
    const client = this.stack.clients.dynamodb;
    if (op.kind === 'INSERT') {
      await client.send(new PutItemCommand({ TableName, Item: marshall(op.after), ConditionExpression: 'attribute_not_exists(claim_id)' }));
    } else if (op.kind === 'MODIFY' && op.statusUpdate) {
      await client.send(
        new UpdateItemCommand({
          TableName,
          Key,
          UpdateExpression: 'SET claim_status = :cs, payment_status = :ps',
          ConditionExpression: 'attribute_exists(claim_id)',
          ExpressionAttributeValues: marshall({ ':cs': op.statusUpdate.claim_status, ':ps': op.statusUpdate.payment_status }),
        }),
      );
    } else if (op.kind === 'MODIFY') {
      await client.send(new PutItemCommand({ TableName, Item: marshall(op.after), ConditionExpression: 'attribute_exists(claim_id)' }));
    } else {
      await client.send(new DeleteItemCommand({ TableName, Key, ConditionExpression: 'attribute_exists(claim_id)' }));
    }
  }

  async finish(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
    if (this.#error) throw this.#error;
    await this.stack.flushCapture();
  }

  recordsOnStream(): number {
    return this.stack.counters().capture?.recordsCaptured ?? 0;
  }

  /**
   * Reads the whole stream back and keeps the capture's records (not the harness's poison), each as the transform
   * receives it (with `precision-switch`, in its stretch's precision).
   */
  async ledger(): Promise<Ledger> {
    const ledger = emptyLedger();
    const poison = this.poisonSequenceNumbers();
    for await (const { sequenceNumber, partitionKey, data: written } of readStream(this.stack)) {
      if (poison.has(sequenceNumber)) continue;
      const data = this.precision ? this.precision.deliver(written, partitionKey) : written;
      const record = JSON.parse(data.toString('utf8')) as DynamoDBKinesisRecord;
      const claimId = String(record.dynamodb.Keys.claim_id?.S);
      const micros = (JSON.parse(written.toString('utf8')) as DynamoDBKinesisRecord).dynamodb.ApproximateCreationDateTime;
      this.precision?.count(claimId, micros, precisionOf(record));
      addToLedger(ledger, record, claimId, data, sequenceNumber);
    }
    return ledger;
  }

  async close(): Promise<void> {}
}

function addToLedger(ledger: Ledger, record: DynamoDBKinesisRecord, claimId: string, data: Buffer, sequenceNumber?: string): void {
  ledger.changeRecords += 1;
  ledger.byEventName[record.eventName] += 1;
  if (record.eventName !== 'REMOVE' && record.dynamodb.NewImage?.[OVERSIZED_ATTRIBUTE] !== undefined) {
    ledger.quarantined.push({ reason: 'too-large', payload: data.toString('base64'), what: 'oversized item' });
  } else {
    ledger.historyIds.add(record.eventID);
    // Records come here in their item's stream order (the direct source in put order, which its outbox keeps per
    // key; the stream read shard by shard, each item on one shard): the last one is the newest change. Not the
    // largest time: with millisecond records, changes in one millisecond tie on time, and the stream order decides.
    ledger.newest.set(claimId, { eventId: record.eventID, eventName: record.eventName, micros: expectedMicros(record), ...(sequenceNumber ? { sequenceNumber } : {}) });
  }
  if (record.eventName === 'REMOVE') ledger.removeEventIds.set(claimId, record.eventID);
}

/**
 * Puts the record DynamoDB would write for each change straight onto the stream. `maxLag` bounds how far the
 * writer runs ahead of the transform (records on the stream not yet acknowledged), so a long run measures the
 * pipeline's steady state instead of a burst of puts followed by a drain.
 */
export class DirectSource implements Source {
  readonly #outbox: KinesisOutbox;
  readonly #clock = new MonotonicMicros();
  readonly #ledger = emptyLedger();
  #emitted = 0;

  constructor(
    private readonly stack: RunningStack,
    private readonly maxLag: number,
    private readonly lag: (emitted: number) => number,
    /** With `precision-switch`: the precision each record is written in. */
    private readonly precision?: PrecisionSwitch,
  ) {
    this.#outbox = new KinesisOutbox(stack.clients.kinesis);
  }

  async apply(op: ChangeOp): Promise<void> {
    const tableName = this.stack.resources.table.name;
    const keys = { claim_id: op.claimId };
    const micros = this.#clock.next();
    const precision = this.precision?.next() ?? 'MICROSECOND';
    const record = buildChangeRecord({
      eventName: op.kind,
      tableName,
      keys,
      ...(op.kind === 'REMOVE' ? {} : { newImage: op.after }),
      ...(op.kind === 'INSERT' ? {} : { oldImage: op.before }),
      micros,
      precision,
    });
    this.precision?.count(op.claimId, micros, precision);
    // DynamoDB's own size accounting, as the capture reports it.
    record.dynamodb.SizeBytes = itemSizeBytes(record.dynamodb.Keys) + itemSizeBytes(record.dynamodb.NewImage) + itemSizeBytes(record.dynamodb.OldImage);
    const data = Buffer.from(JSON.stringify(record));
    this.#outbox.enqueue({ streamName: this.stack.resources.stream.name, partitionKey: partitionKeyOf(tableName, record), data });
    addToLedger(this.#ledger, record, op.claimId, data);
    this.#emitted += 1;
    if (this.#outbox.stats.pending >= 1_000) await this.#outbox.flush();
    while (this.lag(this.#emitted) > this.maxLag) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  async finish(): Promise<void> {
    await this.#outbox.flush();
  }

  recordsOnStream(): number {
    return this.#emitted - this.#outbox.stats.pending;
  }

  async ledger(): Promise<Ledger> {
    return this.#ledger;
  }

  async close(): Promise<void> {
    await this.#outbox.close();
  }
}

/** Puts poison records on the stream (whatever the source) and remembers them. */
export class PoisonInjector {
  readonly sequenceNumbers = new Set<string>();
  readonly injected: { reason: string; payload: string; what: string }[] = [];
  readonly #clock = new MonotonicMicros();

  constructor(private readonly stack: RunningStack) {}

  async put(op: PoisonOp): Promise<void> {
    const data = poisonBytes(op.poison, op.claim, this.stack.resources.table.name, this.#clock.next());
    const reply = await this.stack.clients.kinesis.send(
      new PutRecordCommand({ StreamName: this.stack.resources.stream.name, PartitionKey: randomBytes(16).toString('hex').toUpperCase(), Data: data }),
    );
    this.sequenceNumbers.add(reply.SequenceNumber!);
    this.injected.push({ reason: POISON_KINDS[op.poison], payload: data.toString('base64'), what: `poison: ${op.poison}` });
  }
}

/** Every record on the stream, shard by shard, from the beginning to what is there now. */
export async function* readStream(stack: RunningStack): AsyncGenerator<{ shardId: string; sequenceNumber: string; partitionKey: string; data: Buffer }> {
  const kinesis = stack.clients.kinesis;
  for (const shardId of stack.resources.stream.shardIds) {
    let { ShardIterator: iterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: stack.resources.stream.name, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    while (iterator) {
      const reply = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of reply.Records ?? []) {
        yield { shardId, sequenceNumber: record.SequenceNumber!, partitionKey: record.PartitionKey ?? '', data: Buffer.from(record.Data ?? new Uint8Array()) };
      }
      if ((reply.Records ?? []).length === 0 && (reply.MillisBehindLatest ?? 0) === 0) break;
      iterator = reply.NextShardIterator;
    }
  }
}
