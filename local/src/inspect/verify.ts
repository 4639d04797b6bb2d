import type { WireItem } from '@claims-cdc/shared';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { redrivenRows } from '../quarantine/redriven-rows';
import { QuarantineStore, quarantineStorePath } from '../quarantine/store';
import type { RunningStack } from '../stack/start-stack';
import { scanTable } from './dynamodb-scan';
import { quarantineIdsByClaim } from './verify-quarantine';
import { waitUntilSettled } from './settle';
import { destinationQuery, diffRows, type VerifyReport } from './verify-diff';

/** A verify report and whether the pipeline had settled when DynamoDB and the destination were read. */
export interface VerifyResult extends VerifyReport {
  /** False when changes were still on their way after the wait: some differences may only be in flight. */
  settled: boolean;
  /** Items the pipeline cannot process, with the ids of the quarantine entries that hold their changes (not repaired). */
  unprocessable: Array<{ claimId: string; reason: string; quarantineIds?: string[] }>;
}

/**
 * Compares DynamoDB with the destination in a stack running in this process: waits (at most `settleMs`) for the
 * pipeline to settle, then scans the table and reads the destination.
 */
export async function verifyStack(stack: RunningStack, warehouse: Warehouse, settleMs = 15_000): Promise<VerifyResult> {
  const { settled } = await waitUntilSettled(stack, warehouse, settleMs);
  const items = (await scanTable(stack.clients.dynamodb, stack.resources.table.name)) as unknown as WireItem[];
  const rows = await warehouse.query(destinationQuery());
  // Claims whose quarantined change was fixed and re-driven are compared with the fix (see diffRows).
  const redriven = redrivenRows(new QuarantineStore(quarantineStorePath(stack.stateDir)));
  const report = diffRows(items, rows, stack.resources.table.name, redriven);
  const quarantined = report.unprocessable.length > 0 ? quarantineIdsByClaim(stack.stateDir) : new Map<string, string[]>();
  return { ...report, unprocessable: report.unprocessable.map((u) => ({ ...u, quarantineIds: quarantined.get(u.claimId) ?? [] })), settled };
}
