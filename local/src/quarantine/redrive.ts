/**
 * Re-driving a fixed record: it goes back to where the rejected input entered the pipeline — a transform reject back
 * on the Kinesis stream (as the DynamoDB→Kinesis record the user fixed), a load reject back on the load queue — but
 * only once the same checks that rejected it accept it, so a still-broken record is refused with the reason instead
 * of being quarantined again.
 */
import { PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_MESSAGE_BYTES, packRows, parseChangeRecord, parseRowMessage, RecordRejectedError, toClaimRow, type DynamoDBKinesisRecord } from '@claims-cdc/shared';
import { changePartitionKey } from '../stack/partition-key';
import { identityMismatch } from './identity';
import type { QuarantineEntryWithPayload, RedriveMark } from './store';

/** Where re-driven records go. */
export interface RedriveTargets {
  kinesis: KinesisClient;
  streamName: string;
  sqs: SQSClient;
  loadQueueUrl: string;
}

/** The fixed record is still not acceptable, or the entry cannot be re-driven; the message names why (no values). */
export class RedriveRejectedError extends Error {
  override readonly name = 'RedriveRejectedError';
}

/** Options of {@link redriveRecord}. */
export interface RedriveOptions {
  /** Skip the check that the fixed record is for the same claims and events as the entry (the pipeline's checks still run). */
  readonly force?: boolean;
}

/**
 * Checks a fixed record for an entry the way the pipeline will, and that it is for the same claims and events as the
 * entry (unless `force`), and puts it back. Returns where it went.
 *
 * @throws RedriveRejectedError when the record would be rejected again, is for another claim or event, or the entry's
 *   origin is unknown.
 */
export async function redriveRecord(entry: QuarantineEntryWithPayload, text: string, targets: RedriveTargets, options: RedriveOptions = {}): Promise<RedriveMark> {
  const at = new Date().toISOString();
  const sameRecord = () => {
    const mismatch = options.force ? undefined : identityMismatch(entry, text);
    if (mismatch) throw new RedriveRejectedError(`${mismatch}; nothing was re-driven (--force re-drives it anyway)`);
  };
  if (entry.origin.stage === 'transform') {
    const partitionKey = checkChangeRecord(text);
    sameRecord();
    const reply = await targets.kinesis.send(new PutRecordCommand({ StreamName: targets.streamName, PartitionKey: partitionKey, Data: Buffer.from(text, 'utf8') }));
    return { at, target: 'stream', ref: reply.SequenceNumber ?? '' };
  }
  if (entry.origin.stage === 'load') {
    checkRowMessage(text);
    sameRecord();
    const reply = await targets.sqs.send(new SendMessageCommand({ QueueUrl: targets.loadQueueUrl, MessageBody: text }));
    return { at, target: 'load-queue', ref: reply.MessageId ?? '' };
  }
  throw new RedriveRejectedError(`entry ${entry.id} came from an unknown stage; there is no place to re-drive it to`);
}

/**
 * Validates a DynamoDB→Kinesis record exactly as the transform will (decode, claim schema, queue message size) and
 * returns the partition key the capture would give it (a hash of table and key), so it lands on its claim's shard.
 */
export function checkChangeRecord(text: string): string {
  let rows;
  try {
    rows = [toClaimRow(parseChangeRecord(text, ''))];
  } catch (error) {
    if (error instanceof RecordRejectedError) throw new RedriveRejectedError(`the fixed record would be rejected again: ${error.message}`);
    throw error;
  }
  const { oversized } = packRows(rows, MAX_SQS_MESSAGE_BYTES);
  if (oversized.length > 0) {
    throw new RedriveRejectedError(`the fixed record would be rejected again: too-large: its row is ${oversized[0]!.bytes} bytes, over the ${MAX_SQS_MESSAGE_BYTES}-byte queue message limit`);
  }
  const record = JSON.parse(text) as DynamoDBKinesisRecord;
  return changePartitionKey(record.tableName, record.dynamodb.Keys);
}

/** Validates a load-queue message body as the load will. */
export function checkRowMessage(text: string): void {
  try {
    parseRowMessage(text);
  } catch (error) {
    // The load's own rejection: its reason and detail name columns and rules, never values.
    if (error instanceof RecordRejectedError) throw new RedriveRejectedError(`the fixed message would be rejected again: ${error.reason}: ${error.detail}`);
    throw error;
  }
}
