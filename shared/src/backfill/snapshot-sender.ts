/**
 * Sends snapshot rows through the pipeline as the transform sends change rows: each item becomes its row (decoded,
 * checked and flattened by the shared snapshot rule), rows are packed into load-queue messages, and items the pipeline
 * cannot process are quarantined with their reason and raw record, like any other rejected record.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { sendBodies } from '../aws/sqs-sender';
import type { WireItem } from '../domain/change-record';
import type { ClaimRow } from '../domain/columns';
import { RecordRejectedError, toRejection } from '../domain/errors';
import { quarantineMessages } from '../domain/quarantine';
import { MAX_SQS_MESSAGE_BYTES, packRows } from '../domain/row-message';
import { snapshotChangeRecord, snapshotDeleteRow, snapshotRow, type SnapshotRead } from '../domain/snapshot';

/** Where snapshot rows and rejects go. */
export interface SnapshotTargets {
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly loadQueueUrl: string;
  readonly quarantineQueueUrl: string;
  readonly maxMessageBytes?: number;
}

/** What one send did (claim ids and reasons only, never values). */
export interface SnapshotSendResult {
  readonly sent: number;
  readonly rejected: ReadonlyArray<{ claimId: string; reason: string }>;
}

/** Some rows or rejects could not be sent after every retry: the page must be sent again (its ids are the same). */
export class SnapshotSendError extends Error {
  override readonly name = 'SnapshotSendError';
}

/** One thing to send: an item as DynamoDB holds it, or the key of a claim it no longer holds (a delete). */
export type SnapshotSubject = { readonly item: WireItem } | { readonly deletedClaimId: string };

const claimIdOf = (subject: SnapshotSubject): string => ('item' in subject ? String(subject.item.claim_id?.S ?? '(no claim_id)') : subject.deletedClaimId);

/**
 * Sends the snapshots of one read. Resolves when every row is on the load queue and every reject on the quarantine
 * queue; throws {@link SnapshotSendError} otherwise (sending the same read again is harmless: same event ids).
 */
export async function sendSnapshots(subjects: readonly SnapshotSubject[], read: SnapshotRead, targets: SnapshotTargets): Promise<SnapshotSendResult> {
  const maxBytes = targets.maxMessageBytes ?? MAX_SQS_MESSAGE_BYTES;
  const rows: ClaimRow[] = [];
  const rowSubjects: SnapshotSubject[] = [];
  const rejects: Array<{ subject: SnapshotSubject; error: RecordRejectedError }> = [];
  for (const subject of subjects) {
    try {
      rows.push('item' in subject ? snapshotRow(subject.item, targets.tableName, read) : snapshotDeleteRow(subject.deletedClaimId, targets.tableName, read));
      rowSubjects.push(subject);
    } catch (error) {
      rejects.push({ subject, error: toRejection(error) });
    }
  }
  const { messages, oversized } = packRows(rows, maxBytes);
  for (const { rowIndex, bytes } of oversized) {
    rejects.push({ subject: rowSubjects[rowIndex] as SnapshotSubject, error: new RecordRejectedError('too-large', `row of ${bytes} bytes exceeds the ${maxBytes}-byte queue message limit`) });
  }
  const quarantine = rejects.flatMap(({ subject, error }) => quarantineBodies(subject, error, read, targets.tableName));
  const failures = [...(await sendBodies(targets.sqs, targets.quarantineQueueUrl, quarantine)).values(), ...(await sendBodies(targets.sqs, targets.loadQueueUrl, messages.map((m) => m.body))).values()];
  if (failures.length > 0) throw new SnapshotSendError(`${failures.length} message(s) of a snapshot page could not be sent: ${failures[0]?.message}`);
  return { sent: rows.length - oversized.length, rejected: rejects.map(({ subject, error }) => ({ claimId: claimIdOf(subject), reason: error.reason })) };
}

/**
 * A rejected snapshot is kept as what the transform would have rejected: the DynamoDB→Kinesis record of the item
 * (base64, as on the stream), an INSERT at the snapshot's version; re-driven once fixed, it enters through the stream.
 */
function quarantineBodies(subject: SnapshotSubject, error: RecordRejectedError, read: SnapshotRead, tableName: string): string[] {
  const record = 'item' in subject ? snapshotChangeRecord(subject.item, tableName, read) : { claimId: subject.deletedClaimId };
  const payload = Buffer.from(JSON.stringify(record), 'utf8').toString('base64');
  const origin = { stage: 'transform' as const, id: `${read.reader}:${read.requestedAtMs}:${claimIdOf(subject)}`, source: `backfill:${tableName}` };
  return quarantineMessages(error.reason, `snapshot: ${error.detail}`, origin, payload).map((m) => JSON.stringify(m));
}
