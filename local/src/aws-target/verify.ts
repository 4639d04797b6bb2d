/**
 * `claims-cdc verify --target aws`: DynamoDB against the destination of a deployed stage, row by row, with the same
 * comparison as the local verify (verify-diff). Settling means the load queue is empty and nothing is staged, as far
 * as SQS and the warehouse say (what the transform holds is only in CloudWatch). Quarantined claims are named with
 * the ids of their entries in the quarantine queue.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WireItem } from '@claims-cdc/shared';
import { scanTable } from '../inspect/dynamodb-scan';
import type { VerifyResult } from '../inspect/verify';
import { destinationQuery, diffRows } from '../inspect/verify-diff';
import { claimIdsOfPayload } from '../inspect/verify-quarantine';
import { dynamodb } from './clients';
import { readQuarantine } from './quarantine';
import type { StageResources } from './resources';
import { collectStageStatus } from './status';
import type { StageWarehouse } from './warehouse';

const POLL_MS = 2_000;

/** Waits (at most `timeoutMs`) until the load queue is empty and nothing is staged; resolves with whether it was. */
export async function waitUntilStageSettled(resources: StageResources, warehouse: StageWarehouse, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await collectStageStatus(resources, warehouse);
    const load = s.queues.load;
    if (load.visible + load.inFlight + load.delayed === 0 && s.staged === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/** Compares the stage's table with its destination. */
export async function verifyStage(resources: StageResources, warehouse: StageWarehouse, settleMs: number): Promise<VerifyResult> {
  const settled = await waitUntilStageSettled(resources, warehouse, settleMs);
  const items = (await scanTable(dynamodb, resources.tableName)) as unknown as WireItem[];
  const rows = await warehouse.warehouse.query(destinationQuery());
  // Re-drives on AWS delete their entry and keep no local record, so there are no re-driven rows to compare with.
  const report = diffRows(items, rows, resources.tableName, new Map());
  if (report.unprocessable.length === 0) return { ...report, unprocessable: [], settled };
  const byClaim = new Map<string, string[]>();
  for (const entry of (await readQuarantine(resources)).entries) {
    for (const claimId of claimIdsOfPayload(entry)) byClaim.set(claimId, [...(byClaim.get(claimId) ?? []), entry.id]);
  }
  return { ...report, unprocessable: report.unprocessable.map((u) => ({ ...u, quarantineIds: byClaim.get(u.claimId) ?? [] })), settled };
}
