import { randomUUID } from 'node:crypto';
import type { EventName } from './change-event';
import type { TimePrecision } from './event-time';

/** An item in DynamoDB JSON (`{"claim_id": {"S": "CLM-…"}}`), as it travels on the wire and in stream records. */
export type WireItem = Record<string, Record<string, unknown>>;

/**
 * THE record DynamoDB's Kinesis streaming destination writes, one per changed item, fields in AWS's order
 * (AWS developer guide, "Kinesis Data Streams for DynamoDB"). `toChangeEvent` reads it; the embedded stack's
 * capture component, the snapshot rule and the tests write it with {@link buildWireChangeRecord}.
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

/** The envelope constants of DynamoDB's Kinesis streaming destination records. */
export const WIRE_EVENT_SOURCE = 'aws:dynamodb';
export const WIRE_RECORD_FORMAT = 'application/json';

/** Builds a record in the exact format of DynamoDB's Kinesis streaming destination (microsecond precision by default). */
export const buildWireChangeRecord = (input: WireChangeInput): DynamoDBKinesisRecord => ({
  awsRegion: input.awsRegion ?? 'us-east-1',
  eventID: input.eventId ?? randomUUID(),
  eventName: input.eventName,
  userIdentity: null,
  recordFormat: WIRE_RECORD_FORMAT,
  tableName: input.tableName,
  dynamodb: {
    ApproximateCreationDateTime: (input.precision ?? 'MICROSECOND') === 'MICROSECOND' ? input.micros : Math.floor(input.micros / 1000),
    Keys: input.keys,
    ...(input.newImage === undefined ? {} : { NewImage: input.newImage }),
    ...(input.oldImage === undefined ? {} : { OldImage: input.oldImage }),
    SizeBytes: input.sizeBytes ?? Buffer.byteLength(JSON.stringify({ Keys: input.keys, NewImage: input.newImage, OldImage: input.oldImage })),
    ...(input.precision === 'none' ? {} : { ApproximateCreationDateTimePrecision: input.precision ?? 'MICROSECOND' }),
  },
  eventSource: WIRE_EVENT_SOURCE,
});
