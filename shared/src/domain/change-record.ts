import { createHash, randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { EventName } from './change-event';

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
    ApproximateCreationDateTimePrecision: 'MICROSECOND';
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
}

/** Builds a record in the exact format of DynamoDB's Kinesis streaming destination (microsecond precision). */
export const buildWireChangeRecord = (input: WireChangeInput): DynamoDBKinesisRecord => ({
  awsRegion: input.awsRegion ?? 'us-east-1',
  eventID: input.eventId ?? randomUUID(),
  eventName: input.eventName,
  userIdentity: null,
  recordFormat: 'application/json',
  tableName: input.tableName,
  dynamodb: {
    ApproximateCreationDateTime: input.micros,
    Keys: input.keys,
    ...(input.newImage === undefined ? {} : { NewImage: input.newImage }),
    ...(input.oldImage === undefined ? {} : { OldImage: input.oldImage }),
    SizeBytes: input.sizeBytes ?? Buffer.byteLength(JSON.stringify({ Keys: input.keys, NewImage: input.newImage, OldImage: input.oldImage })),
    ApproximateCreationDateTimePrecision: 'MICROSECOND',
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

/** Builds a record from plain items (marshalled to DynamoDB JSON here). */
export const buildChangeRecord = ({ keys, newImage, oldImage, ...rest }: ChangeRecordInput): DynamoDBKinesisRecord =>
  buildWireChangeRecord({
    ...rest,
    keys: marshallImage(keys),
    ...(newImage === undefined ? {} : { newImage: marshallImage(newImage) }),
    ...(oldImage === undefined ? {} : { oldImage: marshallImage(oldImage) }),
  });

/** The Kinesis partition key for an item key: a hash (as DynamoDB uses), never the key itself. */
export const partitionKeyFor = (canonicalKey: string): string => createHash('md5').update(canonicalKey).digest('hex').toUpperCase();
