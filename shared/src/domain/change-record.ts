import { createHash, randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { EventName } from './change-event';
import type { TimePrecision } from './event-time';

/** An item in DynamoDB JSON (`{"claim_id": {"S": "CLM-…"}}`), as it travels on the wire and in stream records. */
export type WireItem = Record<string, Record<string, unknown>>;

/**
 * THE record DynamoDB's Kinesis streaming destination writes, one per changed item, fields in AWS's order
 * (AWS developer guide, "Kinesis Data Streams for DynamoDB"). `toChangeEvent` reads it; the embedded stack's
 * capture component and the tests write it with {@link buildChangeRecord}.
 */
export interface DynamoDBKinesisRecord {
  awsRegion: string;
  eventID: string;
  eventName: EventName;
  userIdentity: null;
  recordFormat: 'application/json';
  tableName: string;
  dynamodb: {
    ApproximateCreationDateTime: number;
    Keys: WireItem;
    NewImage?: WireItem;
    OldImage?: WireItem;
    SizeBytes: number;
    /** Absent in records of streams created before the field existed (their times are milliseconds). */
    ApproximateCreationDateTimePrecision?: TimePrecision;
  };
  eventSource: 'aws:dynamodb';
}

/** What a record says, images already in DynamoDB JSON. */
export interface WireChangeInput {
  readonly eventName: EventName;
  readonly tableName: string;
  readonly keys: WireItem;
  readonly newImage?: WireItem;
  readonly oldImage?: WireItem;
  /** ApproximateCreationDateTime, microseconds since the epoch. */
  readonly micros: number;
  readonly eventId?: string;
  readonly awsRegion?: string;
  /** DynamoDB's item size accounting; defaults to the JSON size of the images. */
  readonly sizeBytes?: number;
  /**
   * The precision the record is written in (default MICROSECOND, what DynamoDB writes today). MILLISECOND writes
   * `floor(micros / 1000)`; `none` writes that too and omits the field, as streams created before it existed do.
   */
  readonly precision?: TimePrecision | 'none';
}

/** Builds a record in the exact format of DynamoDB's Kinesis streaming destination (microsecond precision by default). */
export const buildWireChangeRecord = (input: WireChangeInput): DynamoDBKinesisRecord => ({
  awsRegion: input.awsRegion ?? 'us-east-1',
  eventID: input.eventId ?? randomUUID(),
  eventName: input.eventName,
  userIdentity: null,
  recordFormat: 'application/json',
  tableName: input.tableName,
  dynamodb: {
    ApproximateCreationDateTime: (input.precision ?? 'MICROSECOND') === 'MICROSECOND' ? input.micros : Math.floor(input.micros / 1000),
    Keys: input.keys,
    ...(input.newImage === undefined ? {} : { NewImage: input.newImage }),
    ...(input.oldImage === undefined ? {} : { OldImage: input.oldImage }),
    SizeBytes: input.sizeBytes ?? Buffer.byteLength(JSON.stringify({ Keys: input.keys, NewImage: input.newImage, OldImage: input.oldImage })),
    ...(input.precision === 'none' ? {} : { ApproximateCreationDateTimePrecision: input.precision ?? 'MICROSECOND' }),
  },
  eventSource: 'aws:dynamodb',
});

/** The same, from plain (unmarshalled) items. */
export interface ChangeRecordInput extends Omit<WireChangeInput, 'keys' | 'newImage' | 'oldImage'> {
  readonly keys: Record<string, unknown>;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
}

/** A plain item as DynamoDB JSON (`NumberValue` keeps a number's exact text; `Set` becomes SS/NS/BS). */
export const marshallImage = (image: Record<string, unknown>): WireItem => marshall(image, { removeUndefinedValues: true }) as unknown as WireItem;

// `marshall` leaves binary (B, BS) as bytes, which JSON.stringify would print as {"0":…}; a stream record carries
// binary as base64 text, as DynamoDB JSON does on the wire.
const base64Binary = (value: unknown): unknown => {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(base64Binary);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, base64Binary(v)]));
  return value;
};

/** A plain item as the DynamoDB JSON a stream record carries (binary as base64 text). */
const wireImage = (image: Record<string, unknown>): WireItem => base64Binary(marshallImage(image)) as WireItem;

/** Builds a record from plain items (marshalled to DynamoDB JSON here; `NumberValue`, sets, bytes and null included). */
export const buildChangeRecord = ({ keys, newImage, oldImage, ...rest }: ChangeRecordInput): DynamoDBKinesisRecord =>
  buildWireChangeRecord({
    ...rest,
    keys: wireImage(keys),
    ...(newImage === undefined ? {} : { newImage: wireImage(newImage) }),
    ...(oldImage === undefined ? {} : { oldImage: wireImage(oldImage) }),
  });

/** The Kinesis partition key for an item key: a hash (as DynamoDB uses), never the key itself. */
export const partitionKeyFor = (canonicalKey: string): string => createHash('md5').update(canonicalKey).digest('hex').toUpperCase();
