/**
 * `verify --repair`: every claim verify finds missing, extra, differing or duplicated in the destination is sent
 * through the pipeline again as DynamoDB holds it now — a snapshot of the item, or, for an item DynamoDB no longer
 * has, a delete (a REMOVE row) — at the snapshot version of the read (`shared/src/domain/snapshot.ts`), so a change
 * the stream carries meanwhile still wins. Claims the pipeline cannot process are reported with their quarantine ids,
 * not repaired. Then it waits for the pipeline to settle and verifies again.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { WireItem } from '@claims-cdc/shared';
import { DEFAULT_SKEW_MARGIN_MS, type SnapshotRead } from '@claims-cdc/shared/domain/snapshot';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { sendSnapshots, type SnapshotSubject } from '@claims-cdc/shared/backfill/snapshot-sender';
import type { RunningStack } from '../stack/start-stack';
import { verifyStack, type VerifyResult } from './verify';

/** What a repair sent, by claim id (never values). */
export interface RepairSent {
  /** Claims sent as a fresh snapshot of their item. */
  snapshots: string[];
  /** Claims DynamoDB no longer holds, sent as a delete. */
  deletes: string[];
  /** Claims whose snapshot the pipeline quarantined, with the reason. */
  rejected: Array<{ claimId: string; reason: string }>;
}

/** The verify before, what was sent, and the verify after the pipeline settled. */
export interface RepairResult {
  before: VerifyResult;
  sent: RepairSent;
  after: VerifyResult;
}

/** The claims a repair sends again: every difference the pipeline can fix (not the quarantined ones). */
export const claimsToRepair = (result: VerifyResult): string[] =>
  [...new Set([...result.missing, ...result.extra, ...result.differing.map((d) => d.claimId), ...result.duplicated])].sort();

/** Reads each claim's item now (consistent), after `read.requestedAtMs`: present → a snapshot, gone → a delete. */
async function readSubjects(stack: RunningStack, claimIds: readonly string[]): Promise<SnapshotSubject[]> {
  const subjects: SnapshotSubject[] = [];
  for (const claimId of claimIds) {
    const reply = await stack.clients.dynamodb.send(
      new GetItemCommand({ TableName: stack.resources.table.name, Key: { claim_id: { S: claimId } }, ConsistentRead: true }),
    );
    subjects.push(reply.Item ? { item: reply.Item as unknown as WireItem } : { deletedClaimId: claimId });
  }
  return subjects;
}

/** Sends the repairs of a verify result; resolves with what was sent. */
export async function sendRepairs(stack: RunningStack, result: VerifyResult, marginMs = DEFAULT_SKEW_MARGIN_MS): Promise<RepairSent> {
  const claimIds = claimsToRepair(result);
  if (claimIds.length === 0) return { snapshots: [], deletes: [], rejected: [] };
  // The request time is taken before any item is read: every read reflects at least the writes before it.
  const read: SnapshotRead = { reader: 'repair', requestedAtMs: Date.now(), marginMs };
  const subjects = await readSubjects(stack, claimIds);
  const { rejected } = await sendSnapshots(subjects, read, {
    sqs: stack.clients.sqs,
    tableName: stack.resources.table.name,
    loadQueueUrl: stack.resources.queues.load.url,
    quarantineQueueUrl: stack.resources.queues.quarantine.url,
  });
  const rejectedIds = new Set(rejected.map((r) => r.claimId));
  const ids = (kind: 'item' | 'deletedClaimId') =>
    subjects.flatMap((s) => (kind in s ? ['item' in s ? String(s.item.claim_id?.S) : s.deletedClaimId] : [])).filter((id) => !rejectedIds.has(id));
  return { snapshots: ids('item'), deletes: ids('deletedClaimId'), rejected: [...rejected] };
}

/** Verifies, repairs what differs, lets the pipeline settle and verifies again. */
export async function repairStack(stack: RunningStack, warehouse: Warehouse, settleMs: number): Promise<RepairResult> {
  const before = await verifyStack(stack, warehouse, settleMs);
  const sent = await sendRepairs(stack, before);
  if (sent.snapshots.length + sent.deletes.length + sent.rejected.length === 0) return { before, sent, after: before };
  // The repairs travel load → merge: give them at least the merge's interval and a few batches.
  const after = await verifyStack(stack, warehouse, Math.max(settleMs, 30_000));
  return { before, sent, after };
}
