/**
 * Event factories for every test in the repository: change records, Kinesis/SQS Lambda events, and the
 * merge-rules oracle. One module, so the record format and the expected outcome are written once.
 */
import { randomUUID } from 'node:crypto';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { KinesisStreamEvent, KinesisStreamRecord, SQSEvent, SQSRecord } from 'aws-lambda';
import type { WireItem } from '../src/domain/change-record';
import { buildChangeRecord, marshallImage } from './change-records';
import type { ChangeEvent, EventName } from '../src/domain/change-event';
import type { Claim, ClaimStatus } from '../src/domain/claim';
import type { ClaimRow } from '../src/domain/columns';
import { RecordRejectedError } from '../src/domain/errors';
import { toClaimRow } from '../src/domain/flatten';
import { generateClaims } from '../src/domain/generator';
import { compareEvents, decide, versionKey } from '../src/domain/merge-rules';

/** A plain item as DynamoDB JSON (what stream records carry). */
export const wire = (item: Record<string, unknown>): WireItem => marshallImage(item);

/** A plain item as the SDK's attribute map: what a mocked GetItem or Scan reply carries. */
export const sdkItem = (item: Record<string, unknown>): Record<string, AttributeValue> => marshall(item, { removeUndefinedValues: true });

export const TABLE_NAME = 'InsuranceClaims';

/** The RecordRejectedError `fn` throws (any other outcome fails the test). */
export const rejection = (fn: () => unknown): RecordRejectedError => {
  try {
    fn();
  } catch (error) {
    if (error instanceof RecordRejectedError) return error;
    throw error;
  }
  throw new Error('expected a RecordRejectedError');
};

/** One change, as a test describes it. */
export interface Op {
  readonly eventName: EventName;
  readonly claim: Claim;
  /** Microseconds since the epoch. */
  readonly micros: number;
  readonly seq?: string;
  readonly eventId?: string;
}

/** Deterministic claims. */
export const claims = (count: number, seed = 7): Claim[] => generateClaims(count, seed);

/**
 * A copy of `claim` with attributes replaced or added, including values the claim schema rejects (a string total, an
 * attribute the registry does not know): typed as a Claim so the factories build its record the normal way.
 */
export const alteredClaim = (claim: Claim | undefined, changes: Readonly<Record<string, unknown>>): Claim => ({ ...claim, ...changes }) as Claim;

/** A copy of `claim` with another status. */
export const withStatus = (claim: Claim, status: ClaimStatus): Claim => ({ ...claim, claim_status: status });

let counter = 0;
/** A fresh event id (deterministic within a run). */
export const nextEventId = (): string => `evt-${String((counter += 1)).padStart(8, '0')}`;

/** The DynamoDB→Kinesis payload of an op, as the stream carries it. */
export const changeRecord = (op: Op, oldImage?: Claim): Record<string, unknown> =>
  buildChangeRecord({
    eventName: op.eventName,
    tableName: TABLE_NAME,
    keys: { claim_id: op.claim.claim_id },
    ...(op.eventName === 'REMOVE' ? {} : { newImage: op.claim }),
    ...(op.eventName === 'INSERT' ? {} : { oldImage: oldImage ?? op.claim }),
    micros: op.micros,
    eventId: op.eventId ?? randomUUID(),
  }) as unknown as Record<string, unknown>;

/** The same op as a millisecond record from an older stream (no precision field). */
export const millisecondRecord = (op: Op): Record<string, unknown> => {
  const record = changeRecord(op) as { dynamodb: Record<string, unknown> };
  delete record.dynamodb.ApproximateCreationDateTimePrecision;
  record.dynamodb.ApproximateCreationDateTime = Math.floor(op.micros / 1000);
  return record;
};

/** The ChangeEvent an op decodes to. */
export const changeEvent = (op: Op): ChangeEvent => ({
  eventId: op.eventId ?? nextEventId(),
  eventName: op.eventName,
  claimId: op.claim.claim_id,
  eventCreationUnixTime: String(op.micros),
  sequenceNumber: op.seq ?? '',
  ...(op.eventName === 'REMOVE' ? { oldImage: wire(op.claim) } : { newImage: wire(op.claim) }),
});

/** The row an op stages. */
export const row = (op: Op): ClaimRow => toClaimRow(changeEvent(op));

/** A Kinesis Lambda event carrying payloads (objects are JSON-encoded, strings sent as their UTF-8 bytes). */
export const kinesisEvent = (payloads: ReadonlyArray<Record<string, unknown> | string>, firstSeq = 1000): KinesisStreamEvent => ({
  Records: payloads.map((payload, i): KinesisStreamRecord => {
    const sequenceNumber = String(49_600_000_000_000 + firstSeq + i);
    return {
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'A1B2C3',
        sequenceNumber,
        data: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)).toString('base64'),
        approximateArrivalTimestamp: 1_731_924_555.932,
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `shardId-000000000000:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/transform',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:kinesis:us-east-1:123456789012:stream/InsuranceClaimsStream',
    };
  }),
});

/** An SQS Lambda event with these bodies. */
export const sqsEvent = (bodies: readonly string[]): SQSEvent => ({
  Records: bodies.map(
    (body, i): SQSRecord => ({
      messageId: `msg-${i}`,
      receiptHandle: `rh-${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1731924555932', SenderId: 'AIDA', ApproximateFirstReceiveTimestamp: '1731924555932' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:claims-cdc-load',
      awsRegion: 'us-east-1',
    }),
  ),
});

const asVersioned = (r: ClaimRow) => ({ eventCreationUnixTime: String(r.eventCreationUnixTime), sequenceNumber: String(r.sequenceNumber ?? ''), eventId: String(r.eventId) });

/**
 * The merge-rules oracle, in memory: one {@link MergeOracle.merge} per warehouse merge run, with a destination and
 * tombstones of its own, so the rules' stale branches run exactly as the SQL's do.
 */
export class MergeOracle {
  readonly destination = new Map<string, ClaimRow>();
  readonly tombstones = new Map<string, ClaimRow>();

  /** One merge run over the rows staged since the last one (duplicates allowed). */
  merge(staged: readonly ClaimRow[]): this {
    const newest = new Map<string, ClaimRow>();
    for (const r of staged) {
      const current = newest.get(String(r.claimId));
      if (!current || compareEvents(asVersioned(r), asVersioned(current)) > 0) newest.set(String(r.claimId), r);
    }
    for (const [claimId, event] of newest) {
      const dest = this.destination.get(claimId);
      const tomb = this.tombstones.get(claimId);
      const action = decide({
        eventName: event.eventName as EventName,
        eventKey: versionKey(asVersioned(event)),
        destinationKey: dest && versionKey(asVersioned(dest)),
        tombstoneKey: tomb && versionKey(asVersioned(tomb)),
      });
      if (action === 'upsert') this.destination.set(claimId, event);
      if (action === 'delete') {
        this.destination.delete(claimId);
        this.tombstones.set(claimId, event);
      }
    }
    return this;
  }
}

/** What the destination must hold after any delivery of `rows`: the newest event of each claim, unless a REMOVE. */
export const expectedDestination = (rows: readonly ClaimRow[]): Map<string, ClaimRow> => new MergeOracle().merge(rows).destination;

/** A 38-digit number: the most digits Snowflake's NUMBER holds. */
export const N38 = '12345678901234567890123456789012345678';

/**
 * Attributes of every DynamoDB type the world can send beside a claim's own (38-digit and tiny numbers, number and
 * string sets, binary and binary sets, booleans, null, empty and nested containers), in DynamoDB JSON.
 */
export const everyTypeAttributes = (): Record<string, unknown> => ({
  ledger_ref: { N: N38 },
  rate: { N: '0.12345678901234567890123456789012345678' },
  tiny: { N: '1E-130' },
  codes: { SS: ['A', 'B'] },
  amounts: { NS: [N38, '-0.5'] },
  blob: { B: 'AAEC/w==' },
  blobs: { BS: ['AA==', '/w=='] },
  flag: { BOOL: false },
  nothing: { NULL: true },
  empty_list: { L: [] },
  empty_map: { M: {} },
  nested: { M: { deep: { L: [{ N: N38 }, { M: { x: { NULL: true } } }] } } },
});
