/**
 * The `precision-switch` fault: a table's streaming destination can be switched between MICROSECOND and MILLISECOND
 * `ApproximateCreationDateTimePrecision` at any time, and streams created before the field existed write
 * milliseconds without it. So records of one item can change precision mid-stream, even within one millisecond, and
 * the pipeline's version order (milliseconds, then the sequence number, then the microseconds) must still pick the
 * newest change.
 *
 * The precision changes in stretches, through a pattern that makes every one of the six switches (µs→ms, ms→µs,
 * µs→none, none→ms, ms→none, none→µs) once per cycle:
 * - direct source: the harness builds each record in its stretch's precision; stretches are counted in records and
 *   their lengths vary from 1 to 120, so bursts of one claim (written back to back, often in one millisecond) are
 *   regularly cut by a switch — the case where only the sequence number can order two changes;
 * - DynamoDB source: the capture (the stand-in for DynamoDB's streaming destination) writes microseconds only, so
 *   the harness rewrites each capture record into the precision of its creation time's stretch (stretches of
 *   {@link STRETCH_MICROS}) as it hands it to the transform — the same bytes on every redelivery — and the ledger
 *   applies the same rewrite to what it reads from the stream. (Writes of one item through the capture are
 *   milliseconds apart, so there a switch never falls inside one millisecond of one claim.)
 *
 * The millisecond value is `floor(micros / 1000)`; the record without the field keeps the value in milliseconds.
 */
import { Prng, type DynamoDBKinesisRecord } from '@claims-cdc/shared';
import { changePartitionKey } from '../stack/partition-key';

/** A record's precision label; `none` is a record without the field (milliseconds). */
export type Precision = 'MICROSECOND' | 'MILLISECOND' | 'none';

/** How long one stretch of one precision lasts (record creation time). */
export const STRETCH_MICROS = 400_000;

const PATTERN: readonly Precision[] = ['MICROSECOND', 'MILLISECOND', 'MICROSECOND', 'none', 'MILLISECOND', 'none'];

/** Lengths, in records, of the direct source's stretches (short ones cut bursts, long ones are the usual case). */
const STRETCH_RECORDS = [1, 2, 3, 5, 8, 13, 40, 120] as const;

/** What the switching did, per record that entered the stream (each counted once, whatever the redeliveries). */
export interface PrecisionCounts {
  MICROSECOND: number;
  MILLISECOND: number;
  none: number;
  /** Switches between consecutive stretches that had records. */
  switches: number;
  /** Records whose previous record of the same item is in the same millisecond but another precision. */
  sameMillisecondSwitches: number;
}

/** See the module comment. One per run; `count` is called once per record, by whoever fixes its final form. */
export class PrecisionSwitch {
  readonly #counts = { MICROSECOND: 0, MILLISECOND: 0, none: 0, sameMillisecondSwitches: 0 };
  readonly #last = new Map<string, { ms: number; precision: Precision }>();
  readonly #stretches = new Set<number>();
  readonly #rng: Prng;
  /** The direct source's current stretch: its index in the pattern and the records it has left. */
  #stretch = { index: 0, left: 0 };
  #recordSwitches = 0;
  /** Whether stretches are counted in records (direct source) rather than in time (delivery rewrite). */
  #byRecord = false;

  constructor(private readonly seed: number) {
    this.#rng = new Prng((seed ^ 0x1f2e3d4c) >>> 0);
    this.#stretch = { index: seed % PATTERN.length, left: 1 };
  }

  /** The precision of the direct source's next record (stretches counted in records). */
  next(): Precision {
    this.#byRecord = true;
    if (this.#stretch.left === 0) {
      this.#stretch = { index: (this.#stretch.index + 1) % PATTERN.length, left: this.#rng.pick(STRETCH_RECORDS) };
      this.#recordSwitches += 1;
    }
    this.#stretch.left -= 1;
    return PATTERN[this.#stretch.index] as Precision;
  }

  /** The precision of a record created at `micros`. */
  at(micros: number): Precision {
    return PATTERN[(Math.floor(micros / STRETCH_MICROS) + this.seed) % PATTERN.length] as Precision;
  }

  /** Counts one record that entered the stream, of item `claimId`, created at `micros`, in `precision`. */
  count(claimId: string, micros: number, precision: Precision): void {
    this.#counts[precision] += 1;
    if (!this.#byRecord) this.#stretches.add(Math.floor(micros / STRETCH_MICROS));
    const ms = Math.floor(micros / 1000);
    const previous = this.#last.get(claimId);
    if (previous && previous.ms === ms && previous.precision !== precision) this.#counts.sameMillisecondSwitches += 1;
    this.#last.set(claimId, { ms, precision });
  }

  /** What was counted so far. */
  get counts(): PrecisionCounts {
    const stretches = [...this.#stretches].sort((a, b) => a - b);
    let switches = this.#recordSwitches;
    for (let i = 1; i < stretches.length; i += 1) {
      if (this.at((stretches[i - 1] as number) * STRETCH_MICROS) !== this.at((stretches[i] as number) * STRETCH_MICROS)) switches += 1;
    }
    return { ...this.#counts, switches };
  }

  /**
   * A capture record's bytes as delivered under this fault: in its stretch's precision. Anything that is not a
   * microsecond capture record of the claims table (the harness's poison records carry a random partition key, not
   * the key's hash) is delivered unchanged, byte for byte.
   */
  deliver(data: Buffer, partitionKey: string): Buffer {
    const record = captureRecord(data, partitionKey);
    if (!record) return data;
    const micros = record.dynamodb.ApproximateCreationDateTime;
    const precision = this.at(micros);
    if (precision === 'MICROSECOND') return data;
    // Same fields in the same order; only the time and its label change.
    const dynamodb: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(record.dynamodb)) {
      if (name === 'ApproximateCreationDateTime') dynamodb[name] = Math.floor(micros / 1000);
      else if (name === 'ApproximateCreationDateTimePrecision') {
        if (precision === 'MILLISECOND') dynamodb[name] = 'MILLISECOND';
      } else dynamodb[name] = value;
    }
    return Buffer.from(JSON.stringify({ ...record, dynamodb }));
  }
}

/** The record when `data` is a microsecond record the capture wrote (its partition key is the hash of its key). */
function captureRecord(data: Buffer, partitionKey: string): DynamoDBKinesisRecord | undefined {
  let record: DynamoDBKinesisRecord;
  try {
    record = JSON.parse(data.toString('utf8')) as DynamoDBKinesisRecord;
  } catch {
    return undefined;
  }
  const dynamodb = record?.dynamodb;
  if (!dynamodb || dynamodb.ApproximateCreationDateTimePrecision !== 'MICROSECOND' || !Number.isSafeInteger(dynamodb.ApproximateCreationDateTime)) return undefined;
  if (!dynamodb.Keys || typeof dynamodb.Keys !== 'object') return undefined;
  return changePartitionKey(record.tableName, dynamodb.Keys) === partitionKey ? record : undefined;
}

/** The µs the pipeline must derive from a record's time and label (milliseconds when labelled so or unlabelled). */
export const expectedMicros = (record: DynamoDBKinesisRecord): string =>
  record.dynamodb.ApproximateCreationDateTimePrecision === 'MICROSECOND' ? String(record.dynamodb.ApproximateCreationDateTime) : String(BigInt(record.dynamodb.ApproximateCreationDateTime) * 1000n);

/** A record's precision label. */
export const precisionOf = (record: DynamoDBKinesisRecord): Precision => record.dynamodb.ApproximateCreationDateTimePrecision ?? 'none';
