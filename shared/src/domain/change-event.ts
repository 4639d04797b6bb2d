import { DynamoDBStreamToKinesisChangeRecord, DynamoDBStreamToKinesisRecord } from '@aws-lambda-powertools/parser/schemas/dynamodb';
import { z } from 'zod';
import { AttributeValueError, plainItem } from './attribute-value';
import type { WireItem } from './change-record';
import { ClaimSchema } from './claim';
import { RecordRejectedError } from './errors';
import { describeIssues } from './issues';
import { eventMicros } from './event-time';
import { MAX_SEQUENCE_DIGITS } from './merge-rules';

/** The three kinds of change DynamoDB reports. */
export const EVENT_NAMES = ['INSERT', 'MODIFY', 'REMOVE'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * The DynamoDB→Kinesis record format, from the Powertools schema. Powertools strips
 * `ApproximateCreationDateTimePrecision` (and unmarshalls images in a transform), so we extend its plain object
 * schemas with the precision field and read the images ourselves (`attribute-value.ts`: without loss).
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
  /** The images exactly as the stream sent them (DynamoDB JSON), so no number loses a digit. */
  readonly newImage?: WireItem;
  readonly oldImage?: WireItem;
}

const readImage = (image: Record<string, unknown> | undefined, name: string): Record<string, unknown> | undefined => {
  if (image === undefined) return undefined;
  try {
    return plainItem(image);
  } catch (error) {
    if (error instanceof AttributeValueError) throw new RecordRejectedError('not-a-change-record', `${name}.${error.message}`);
    throw error;
  }
};

const requireClaim = (image: Record<string, unknown>, name: string): void => {
  const parsed = ClaimSchema.safeParse(image);
  if (!parsed.success) throw new RecordRejectedError('claim-schema', `${name} does not match the claim schema: ${describeIssues(parsed.error)}`);
};

const SEQUENCE = new RegExp(`^\\d{0,${MAX_SEQUENCE_DIGITS}}$`);

/**
 * Turns one decoded DynamoDB→Kinesis record (the JSON inside `kinesis.data`) into a {@link ChangeEvent}.
 * `nowMs` is the clock implausible times are judged by (see `eventMicros`).
 *
 * @throws RecordRejectedError when the record can never be processed (the caller quarantines it).
 */
export const toChangeEvent = (payload: unknown, sequenceNumber: string, nowMs = Date.now()): ChangeEvent => {
  if (!SEQUENCE.test(sequenceNumber)) throw new RecordRejectedError('bad-sequence-number', `sequence number is not 0-${MAX_SEQUENCE_DIGITS} decimal digits`);
  const parsed = ChangeRecordSchema.safeParse(payload);
  if (!parsed.success) throw new RecordRejectedError('not-a-change-record', `not a DynamoDB change record: ${describeIssues(parsed.error)}`);
  const record = parsed.data;
  if (!(EVENT_NAMES as readonly string[]).includes(record.eventName)) {
    throw new RecordRejectedError('unknown-event-name', 'eventName must be INSERT, MODIFY or REMOVE');
  }
  const eventName = record.eventName as EventName;
  const claimId = readImage(record.dynamodb.Keys, 'Keys')?.claim_id;
  if (typeof claimId !== 'string') throw new RecordRejectedError('not-a-claim', 'Keys has no string claim_id (record is not from the claims table)');
  const newImage = record.dynamodb.NewImage as WireItem | undefined;
  const oldImage = record.dynamodb.OldImage as WireItem | undefined;
  const newPlain = readImage(newImage, 'NewImage');
  readImage(oldImage, 'OldImage');
  if (eventName !== 'REMOVE') {
    if (newPlain === undefined) throw new RecordRejectedError('missing-image', `${eventName} record has no NewImage (stream view must include new images)`);
    requireClaim(newPlain, 'NewImage');
    if (newPlain.claim_id !== claimId) throw new RecordRejectedError('key-mismatch', `NewImage.claim_id differs from Keys.claim_id for ${claimId}`);
  }
  return {
    eventId: record.eventID,
    eventName,
    claimId,
    eventCreationUnixTime: eventMicros(record.dynamodb.ApproximateCreationDateTime, record.dynamodb.ApproximateCreationDateTimePrecision, nowMs),
    sequenceNumber,
    ...(newImage === undefined ? {} : { newImage }),
    ...(oldImage === undefined ? {} : { oldImage }),
  };
};

/**
 * Parses a record's JSON text.
 * @throws RecordRejectedError `not-json`
 */
export const parseRecordJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new RecordRejectedError('not-json', 'payload is not valid JSON');
  }
};

/** Parses JSON text into a {@link ChangeEvent}. */
export const parseChangeRecord = (text: string, sequenceNumber: string, nowMs = Date.now()): ChangeEvent => toChangeEvent(parseRecordJson(text), sequenceNumber, nowMs);

/**
 * Decodes the base64 `kinesis.data` of a Kinesis Lambda record into a {@link ChangeEvent}: the reference decoder,
 * every check through the zod schemas. The transform runs `fast-decode.ts` first and comes here for anything unusual.
 */
export const decodeKinesisData = (data: string, sequenceNumber: string, nowMs = Date.now()): ChangeEvent => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) throw new RecordRejectedError('not-base64', 'kinesis.data is not base64');
  return parseChangeRecord(Buffer.from(data, 'base64').toString('utf8'), sequenceNumber, nowMs);
};
