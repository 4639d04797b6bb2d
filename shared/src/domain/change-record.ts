import { createHash, randomUUID } from 'node:crypto';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { ChangeRecord, EventName } from './change-event';

/** What a DynamoDB→Kinesis record says, before it is put in AWS's format. */
export interface ChangeRecordInput {
  readonly eventName: EventName;
  readonly tableName: string;
  readonly keys: Record<string, unknown>;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
  /** ApproximateCreationDateTime, microseconds since the epoch. */
  readonly micros: number;
  readonly eventId?: string;
  readonly awsRegion?: string;
}

const marshallImage = (image: Record<string, unknown>): Record<string, Record<string, unknown>> =>
  marshall(image, { removeUndefinedValues: true }) as unknown as Record<string, Record<string, unknown>>;

/**
 * Builds a record in the exact format DynamoDB's Kinesis streaming destination writes (microsecond precision).
 * The inverse of `toChangeEvent`; used by the embedded stack's capture component and by tests.
 */
export const buildChangeRecord = (input: ChangeRecordInput): ChangeRecord & { dynamodb: { ApproximateCreationDateTimePrecision: 'MICROSECOND' } } => {
  const Keys = marshallImage(input.keys);
  const NewImage = input.newImage === undefined ? undefined : marshallImage(input.newImage);
  const OldImage = input.oldImage === undefined ? undefined : marshallImage(input.oldImage);
  const SizeBytes = Buffer.byteLength(JSON.stringify({ Keys, NewImage, OldImage }));
  return {
    awsRegion: input.awsRegion ?? 'us-east-1',
    eventID: input.eventId ?? randomUUID(),
    eventName: input.eventName,
    userIdentity: null,
    recordFormat: 'application/json',
    tableName: input.tableName,
    dynamodb: {
      ApproximateCreationDateTime: input.micros,
      ApproximateCreationDateTimePrecision: 'MICROSECOND',
      Keys,
      ...(NewImage === undefined ? {} : { NewImage }),
      ...(OldImage === undefined ? {} : { OldImage }),
      SizeBytes,
    },
    eventSource: 'aws:dynamodb',
  };
};

/** The Kinesis partition key DynamoDB uses: a hash of the item key, not the key itself. */
export const partitionKeyFor = (keys: Record<string, unknown>): string =>
  createHash('md5').update(JSON.stringify(marshallImage(keys))).digest('hex').toUpperCase();
