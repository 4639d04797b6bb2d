/**
 * Re-driving a fixed record: it goes back to where the rejected input entered the pipeline — a transform reject back
 * on the Kinesis stream (as the DynamoDB→Kinesis record the user fixed), a load reject back on the load queue — but
 * only once the same checks that rejected it accept it, so a still-broken record is refused with the reason instead
 * of being quarantined again.
 */
import { PutRecordCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_MESSAGE_BYTES, packRows, parseChangeRecord, parseRowMessage, partitionKeyFor, RecordRejectedError, toClaimRow, type DynamoDBKinesisRecord } from '@claims-cdc/shared';
import { canonicalKey } from '../stack/dynamodb-wire';
import type { QuarantineEntry, RedriveMark } from './store';

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

/**
 * Checks a fixed record for an entry the way the pipeline will, and puts it back. Returns where it went.
 *
 * @throws RedriveRejectedError when the record would be rejected again or the entry's origin is unknown.
 */
export async function redriveRecord(entry: QuarantineEntry, text: string, targets: RedriveTargets): Promise<RedriveMark> {
  const at = new Date().toISOString();
  if (entry.origin.stage === 'transform') {
    const partitionKey = checkChangeRecord(text);
    const reply = await targets.kinesis.send(new PutRecordCommand({ StreamName: targets.streamName, PartitionKey: partitionKey, Data: Buffer.from(text, 'utf8') }));
    return { at, target: 'stream', ref: reply.SequenceNumber ?? '' };
  }
  if (entry.origin.stage === 'load') {
    checkRowMessage(text);
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
  return partitionKeyFor(`${record.tableName}\u0000${canonicalKey(record.dynamodb.Keys)}`);
}

/** Validates a load-queue message body as the load will. */
export function checkRowMessage(text: string): void {
  try {
    parseRowMessage(text);
  } catch (error) {
    // zod's issues name paths and expectations, never values.
    const issues = (error as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
    const why = Array.isArray(issues)
      ? issues
          .slice(0, 5)
          .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
          .join('; ')
      : 'body is not valid JSON';
    throw new RedriveRejectedError(`the fixed message would be rejected again: not a row message: ${why}`);
  }
}
