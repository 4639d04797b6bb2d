import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoDBStreamToKinesisChangeRecord, DynamoDBStreamToKinesisRecord } from '@aws-lambda-powertools/parser/schemas/dynamodb';
import { z } from 'zod';
import { ClaimSchema } from './claim';
import { RecordRejectedError } from './errors';

/** The three kinds of change DynamoDB reports. */
export const EVENT_NAMES = ['INSERT', 'MODIFY', 'REMOVE'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * The DynamoDB→Kinesis record format, from the Powertools schema. Powertools strips
 * `ApproximateCreationDateTimePrecision` (and unmarshalls images in a transform), so we extend its plain object
 * schemas with the precision field and unmarshall ourselves.
 */
export const ChangeRecordSchema = DynamoDBStreamToKinesisRecord.extend({
  eventName: z.string(),
  dynamodb: DynamoDBStreamToKinesisChangeRecord.extend({
    ApproximateCreationDateTime: z.number().int().positive(),
    ApproximateCreationDateTimePrecision: z.enum(['MILLISECOND', 'MICROSECOND']).optional(),
  }),
});

/** The record as it travels on the stream (images still in DynamoDB JSON). */
export type ChangeRecord = z.infer<typeof ChangeRecordSchema>;

/** A typed change of one claim. */
export interface ChangeEvent {
  /** DynamoDB's id of this change: duplicates of one change share it. */
  readonly eventId: string;
  readonly eventName: EventName;
  readonly claimId: string;
  /** ApproximateCreationDateTime in microseconds since the epoch, as decimal text (quickstart's eventCreationUnixTime). */
  readonly eventCreationUnixTime: string;
  /** Kinesis sequence number ('' when the record did not come from a stream). */
  readonly sequenceNumber: string;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
}

const describeIssues = (error: z.ZodError): string =>
  error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');

/** Millisecond records (and older ones without the precision field) are scaled to microseconds. */
const toMicroseconds = (value: number, precision: 'MILLISECOND' | 'MICROSECOND' | undefined): string =>
  precision === 'MICROSECOND' ? String(value) : (BigInt(value) * 1000n).toString();

const unmarshallImage = (image: Record<string, unknown> | undefined, name: string): Record<string, unknown> | undefined => {
  if (image === undefined) return undefined;
  try {
    return unmarshall(image as Parameters<typeof unmarshall>[0]);
  } catch {
    throw new RecordRejectedError('not-a-change-record', `${name} is not valid DynamoDB JSON`);
  }
};

const requireClaim = (image: Record<string, unknown>, name: string): void => {
  const parsed = ClaimSchema.safeParse(image);
  if (!parsed.success) throw new RecordRejectedError('claim-schema', `${name} does not match the claim schema: ${describeIssues(parsed.error)}`);
};

/**
 * Turns one decoded DynamoDB→Kinesis record (the JSON inside `kinesis.data`) into a {@link ChangeEvent}.
 *
 * @throws RecordRejectedError when the record can never be processed (the caller quarantines it).
 */
export const toChangeEvent = (payload: unknown, sequenceNumber: string): ChangeEvent => {
  const parsed = ChangeRecordSchema.safeParse(payload);
  if (!parsed.success) throw new RecordRejectedError('not-a-change-record', `not a DynamoDB change record: ${describeIssues(parsed.error)}`);
  const record = parsed.data;
  if (!(EVENT_NAMES as readonly string[]).includes(record.eventName)) {
    throw new RecordRejectedError('unknown-event-name', 'eventName must be INSERT, MODIFY or REMOVE');
  }
  const eventName = record.eventName as EventName;
  const keys = unmarshallImage(record.dynamodb.Keys, 'Keys') ?? {};
  const claimId = keys.claim_id;
  if (typeof claimId !== 'string') throw new RecordRejectedError('not-a-claim', 'Keys has no string claim_id (record is not from the claims table)');
  const newImage = unmarshallImage(record.dynamodb.NewImage, 'NewImage');
  const oldImage = unmarshallImage(record.dynamodb.OldImage, 'OldImage');
  if (eventName !== 'REMOVE') {
    if (newImage === undefined) throw new RecordRejectedError('missing-image', `${eventName} record has no NewImage (stream view must include new images)`);
    requireClaim(newImage, 'NewImage');
    if (newImage.claim_id !== claimId) throw new RecordRejectedError('key-mismatch', `NewImage.claim_id differs from Keys.claim_id for ${claimId}`);
  }
  return {
    eventId: record.eventID,
    eventName,
    claimId,
    eventCreationUnixTime: toMicroseconds(record.dynamodb.ApproximateCreationDateTime, record.dynamodb.ApproximateCreationDateTimePrecision),
    sequenceNumber,
    ...(newImage === undefined ? {} : { newImage }),
    ...(oldImage === undefined ? {} : { oldImage }),
  };
};

/** Parses JSON text into a {@link ChangeEvent}. */
export const parseChangeRecord = (text: string, sequenceNumber: string): ChangeEvent => {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new RecordRejectedError('not-json', 'payload is not valid JSON');
  }
  return toChangeEvent(payload, sequenceNumber);
};

/** Decodes the base64 `kinesis.data` of a Kinesis Lambda record into a {@link ChangeEvent}. */
export const decodeKinesisData = (data: string, sequenceNumber: string): ChangeEvent => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) throw new RecordRejectedError('not-base64', 'kinesis.data is not base64');
  return parseChangeRecord(Buffer.from(data, 'base64').toString('utf8'), sequenceNumber);
};
