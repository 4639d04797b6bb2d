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
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBKinesisRecord, EventName } from '@claims-cdc/shared';
import { buildWireChangeRecord, type WireItem } from '@claims-cdc/shared/domain/change-record';
import { wireImage } from '@claims-cdc/shared/test-support/change-records';
import type { SNAPSHOT_EVENT_NAME } from '@claims-cdc/shared/domain/snapshot';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MonotonicMicros, type RunningStack } from '../stack';
import { itemSizeBytes } from '../stack/dynamodb-wire';
import { changePartitionKey } from '../stack/partition-key';
import { KinesisOutbox } from '../stack/kinesis-outbox';
import { poisonBytes } from './poison';
import { expectedMicros, precisionOf, type PrecisionSwitch } from './precision';
import type { StreamTail, TailRecord } from './stream-tail';
import { OVERSIZED_ATTRIBUTE, POISON_KINDS, type ChangeOp, type PoisonOp } from './workload';

/** What entered the stream, and so what the pipeline must end up with. */
export interface Ledger {
  /** Change records on the stream (one per item change). */
  changeRecords: number;
  byEventName: Record<EventName, number>;
  /** Event ids history must hold, each once: every change record except the quarantined ones (and `backfill` reads). */
  historyIds: Set<string>;
  /** Event ids history may hold, once (`backfill`: an earlier read of a page read again, whose send a cut left unknown). */
  mayHistoryIds?: Set<string>;
  /** Inputs that must be quarantined: reason and the exact base64 payload. */
  quarantined: { reason: string; payload: string; what: string }[];
  /**
   * Origin ids of quarantine entries that may exist, complete or not (`backfill`: an oversized item an earlier read of
   * a page returned, whose quarantine send a cut interrupted, and which the page's read again no longer returned so).
   */
  mayQuarantineOrigins?: Set<string>;
  /** Per removed claim, the event id of its REMOVE (the tombstone must name it). */
  removeEventIds: Map<string, string>;
  /** Per claim, its newest change that is not quarantined: the event the destination row must carry. */
  newest: Map<string, NewestEvent>;
  /** Change records on the stream more than once (same eventID; after a `stack-kill` restart). */
  duplicates: number;
  /** Payloads on the stream more than once → how many times (each copy that is quarantined is its own entry). */
  copies: Map<string, number>;
}

/** The event columns a destination row must hold. */
export interface NewestEvent {
  eventId: string;
  /** A stream event's name, or `SNAPSHOT` (`backfill`: the claim's newest version is a read). */
  eventName: EventName | typeof SNAPSHOT_EVENT_NAME;
  /** ApproximateCreationDateTime in microseconds (scaled from milliseconds when the record says so), as text. */
  micros: string;
  /** Kinesis sequence number, when the ledger read it from the stream. */
  sequenceNumber?: string;
  /** Every copy's sequence number when the record is on the stream more than once (any may be the one merged). */
  sequenceNumbers?: string[];
}

const emptyLedger = (): Ledger => ({
  changeRecords: 0,
  byEventName: { INSERT: 0, MODIFY: 0, REMOVE: 0 },
  historyIds: new Set(),
  quarantined: [],
  removeEventIds: new Map(),
  newest: new Map(),
  duplicates: 0,
  copies: new Map(),
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

/**
 * The run's stack as sources see it: the one now, and, with `stack-kill`, a new one after every restart (see
 * stack-kill.ts). An operation that saw `epoch` change during its call may have been cut by a kill.
 */
export interface StackRef {
  readonly stack: RunningStack;
  readonly epoch: number;
  readonly restarting: boolean;
  ready(): Promise<RunningStack>;
  guard<T>(fn: (stack: RunningStack) => Promise<T>): Promise<T>;
  onRestart(listener: (stack: RunningStack) => void): void;
  counters(): { recordsCaptured: number };
}

/** A kill cut a write this many times in a row: give up (the stack is not coming back). */
const MAX_CUT_ATTEMPTS = 5;

const partitionKeyOf = (tableName: string, record: DynamoDBKinesisRecord): string => changePartitionKey(tableName, record.dynamodb.Keys);

/** Writes through DynamoDB (the capture proxy), `writers` at a time, in order per claim. */
export class DynamoDbSource implements Source {
  #inFlight = 0;
  /** Requests on the wire now (a kill cuts them). */
  #sending = 0;
  readonly #waiters: (() => void)[] = [];
  readonly #tails = new Map<string, Promise<void>>();
  #error: unknown;
  readonly #ledger = emptyLedger();
  /** DynamoDB eventID → its copies' sequence numbers (a restarted capture puts again what it was not sure landed). */
  readonly #seen = new Map<string, string[]>();

  constructor(
    private readonly ref: StackRef,
    private readonly writers: number,
    private readonly poisonSequenceNumbers: () => ReadonlySet<string>,
    /** The run's reader of the stream: the ledger is read back from it. */
    private readonly tail: StreamTail,
    /** With `precision-switch`: how the transform receives the capture's records (the ledger must expect the same). */
    private readonly precision?: PrecisionSwitch,
  ) {
    tail.subscribe((record) => this.#fold(record));
  }

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

  /** Writes in flight on the wire. */
  get sending(): number {
    return this.#sending;
  }

  /**
   * One write, as an application does it: a write cut by a stack kill (`stack-kill`) may or may not have been applied,
   * so it is sent again to the restarted stack. Sent again, an INSERT or REMOVE whose first attempt was applied fails
   * its condition (the item is already there / already gone), which means it is done; a MODIFY writes the same item
   * again, which changes nothing and so emits no stream record.
   */
  async #write(op: ChangeOp): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const stack = await this.ref.ready();
      const epoch = this.ref.epoch;
      this.#sending += 1;
      try {
        await this.#send(stack, op);
        return;
      } catch (error) {
        const cut = this.ref.epoch !== epoch || this.ref.restarting;
        if (!cut || attempt >= MAX_CUT_ATTEMPTS) {
          if (attempt > 1 && (op.kind === 'INSERT' || op.kind === 'REMOVE') && (error as Error).name === 'ConditionalCheckFailedException') return;
          throw error;
        }
      } finally {
        this.#sending -= 1;
      }
    }
  }

  async #send(stack: RunningStack, op: ChangeOp): Promise<void> {
    const TableName = stack.resources.table.name;
    const Key = marshall({ claim_id: op.claimId });
    const client = stack.clients.dynamodb;
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
    for (;;) {
      const stack = await this.ref.ready();
      const epoch = this.ref.epoch;
      try {
        await stack.flushCapture();
        return;
      } catch (error) {
        if (this.ref.epoch === epoch && !this.ref.restarting) throw error;
      }
    }
  }

  recordsOnStream(): number {
    return this.ref.counters().recordsCaptured;
  }

  /**
   * The capture's records on the stream (not the harness's poison), each as the transform receives it (with
   * `precision-switch`, in its stretch's precision): folded as the tail reads them, which is after the workload (and
   * so every poison put) is done.
   */
  async ledger(): Promise<Ledger> {
    await this.tail.catchUp(await this.ref.ready());
    return this.#ledger;
  }

  #fold({ sequenceNumber, partitionKey, data: written }: TailRecord): void {
    if (this.poisonSequenceNumbers().has(sequenceNumber)) return;
    const ledger = this.#ledger;
    const data = this.precision ? this.precision.deliver(written, partitionKey) : written;
    const record = JSON.parse(data.toString('utf8')) as DynamoDBKinesisRecord;
    const claimId = String(record.dynamodb.Keys.claim_id?.S);
    const copies = this.#seen.get(record.eventID);
    if (copies) {
      // The same change record again (same eventID and bytes): one change, delivered twice.
      copies.push(sequenceNumber);
      ledger.duplicates += 1;
      const payload = data.toString('base64');
      ledger.copies.set(payload, (ledger.copies.get(payload) ?? 1) + 1);
      const newest = ledger.newest.get(claimId);
      if (newest?.eventId === record.eventID) newest.sequenceNumbers = [...copies];
      return;
    }
    this.#seen.set(record.eventID, [sequenceNumber]);
    const micros = (JSON.parse(written.toString('utf8')) as DynamoDBKinesisRecord).dynamodb.ApproximateCreationDateTime;
    this.precision?.count(claimId, micros, precisionOf(record));
    addToLedger(ledger, record, claimId, data, sequenceNumber);
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

/** An item as DynamoDB JSON, and its size as DynamoDB counts it. */
interface WireImage {
  readonly image: WireItem;
  readonly bytes: number;
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
  readonly #wireImages = new WeakMap<object, WireImage>();
  #emitted = 0;
  /** With `stack-kill`: the payloads on the stream, counted as the tail reads them. */
  readonly #copies?: PayloadCopies;

  constructor(
    private readonly ref: StackRef,
    private readonly maxLag: number,
    private readonly lag: (emitted: number) => number,
    /** The run's reader of the stream. */
    private readonly tail: StreamTail,
    /** With `precision-switch`: the precision each record is written in. */
    private readonly precision?: PrecisionSwitch,
    /** With `stack-kill`: a put cut by a kill may land twice; the ledger then counts the copies on the stream. */
    countCopies = false,
  ) {
    if (countCopies) {
      const copies = (this.#copies = new PayloadCopies());
      tail.subscribe(({ data }) => copies.add(data));
    }
    // The harness plays DynamoDB's streaming destination, which is not part of the stack: its queue outlives a kill
    // and puts to the restarted stream (a put cut by the kill is sent again, and may land twice).
    this.#outbox = new KinesisOutbox(ref.stack.clients.kinesis);
    ref.onRestart((stack) => this.#outbox.useClient(stack.clients.kinesis));
  }

  async apply(op: ChangeOp): Promise<void> {
    const tableName = this.ref.stack.resources.table.name;
    const micros = this.#clock.next();
    const precision = this.precision?.next() ?? 'MICROSECOND';
    const keys = wireImage({ claim_id: op.claimId });
    const newImage = op.kind === 'REMOVE' ? undefined : this.#wire(op.after);
    const oldImage = op.kind === 'INSERT' ? undefined : this.#wire(op.before);
    const record = buildWireChangeRecord({
      eventName: op.kind,
      tableName,
      keys,
      ...(newImage ? { newImage: newImage.image } : {}),
      ...(oldImage ? { oldImage: oldImage.image } : {}),
      micros,
      precision,
      // DynamoDB's own size accounting, as the capture reports it.
      sizeBytes: itemSizeBytes(keys) + (newImage?.bytes ?? 0) + (oldImage?.bytes ?? 0),
    });
    this.precision?.count(op.claimId, micros, precision);
    const data = Buffer.from(JSON.stringify(record));
    this.#outbox.enqueue({ streamName: this.ref.stack.resources.stream.name, partitionKey: partitionKeyOf(tableName, record), data });
    addToLedger(this.#ledger, record, op.claimId, data);
    this.#emitted += 1;
    if (this.#outbox.stats.pending >= 1_000) await this.#outbox.flush();
    while (this.lag(this.#emitted) > this.maxLag) await sleep(20);
  }

  /**
   * An item of the model as DynamoDB JSON, with its size. The model never changes an item it holds (a MODIFY stores a
   * changed copy), and a MODIFY's or REMOVE's `before` is the object the change before it stored, so each item is
   * marshalled once instead of twice. The writer runs on the thread the stack's pollers share; on 100,000 events
   * (seed 13, one run each) the run took 115 s of this process's CPU with the cache and 123 s without.
   */
  #wire(item: Record<string, unknown>): WireImage {
    let wire = this.#wireImages.get(item);
    if (!wire) {
      const image = wireImage(item);
      wire = { image, bytes: itemSizeBytes(image) };
      this.#wireImages.set(item, wire);
    }
    return wire;
  }

  async finish(): Promise<void> {
    await this.#outbox.flush();
  }

  recordsOnStream(): number {
    return this.#emitted - this.#outbox.stats.pending;
  }

  async ledger(): Promise<Ledger> {
    if (this.#copies) {
      await this.tail.catchUp(await this.ref.ready());
      this.#ledger.copies = this.#copies.repeated();
      this.#ledger.duplicates = [...this.#ledger.copies.values()].reduce((sum, n) => sum + n - 1, 0);
    }
    return this.#ledger;
  }

  async close(): Promise<void> {
    await this.#outbox.close();
  }
}

/**
 * How many times each payload is on the stream, without keeping a million payloads: a digest each, and the payload
 * itself only once it is seen a second time.
 */
class PayloadCopies {
  readonly #counts = new Map<string, number>();
  readonly #payloads = new Map<string, string>();

  add(data: Buffer): void {
    const digest = createHash('sha256').update(data).digest('base64');
    const n = (this.#counts.get(digest) ?? 0) + 1;
    this.#counts.set(digest, n);
    if (n === 2) this.#payloads.set(digest, data.toString('base64'));
  }

  /** Payload (base64) → copies, for those on the stream more than once. */
  repeated(): Map<string, number> {
    return new Map([...this.#payloads].map(([digest, payload]) => [payload, this.#counts.get(digest) as number]));
  }
}

/** Puts poison records on the stream (whatever the source) and remembers them. */
export class PoisonInjector {
  readonly sequenceNumbers = new Set<string>();
  readonly injected: { reason: string; payload: string; what: string }[] = [];
  readonly #clock = new MonotonicMicros();

  constructor(private readonly ref: StackRef) {}

  /** Never across a stack kill (its sequence number must be known exactly): a kill waits for it. */
  async put(op: PoisonOp): Promise<void> {
    const reply = await this.ref.guard(async (stack) => {
      const data = poisonBytes(op.poison, op.claim, stack.resources.table.name, this.#clock.next());
      const out = await stack.clients.kinesis.send(
        new PutRecordCommand({ StreamName: stack.resources.stream.name, PartitionKey: randomBytes(16).toString('hex').toUpperCase(), Data: data }),
      );
      return { ...out, data };
    });
    const data = reply.data;
    this.sequenceNumbers.add(reply.SequenceNumber!);
    this.injected.push({ reason: POISON_KINDS[op.poison], payload: data.toString('base64'), what: `poison: ${op.poison}` });
  }
}
