/**
 * Reconciliation of the destination with DynamoDB, deployed: a parallel Scan hashes every item as the pipeline would
 * store it (its snapshot row), the warehouse hashes every destination row the same way (`warehouse/row-hash.ts`),
 * and the two are compared by claim id. Claims that differ are read again (consistent GetItem) to name the
 * differing columns and, with `repair`, sent through the pipeline as snapshot rows (a delete for a claim DynamoDB no
 * longer holds) at the snapshot version of that read, so a change the stream carries meanwhile still wins
 * (`domain/snapshot.ts`). The report holds claim ids, column names and reasons only, never values.
 */
import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type ClaimRow, packRows, toRejection, type WireItem } from '@claims-cdc/shared';
import { sendBodies } from '@claims-cdc/shared/aws/sqs-sender';
import { columnHashes, HASHED_COLUMNS, rowHash } from '@claims-cdc/shared/domain/row-hash';
import { snapshotDeleteRow, snapshotRow, type SnapshotRead } from '@claims-cdc/shared/domain/snapshot';
import type { Dialect } from '@claims-cdc/shared/warehouse/dialect';
import type { ResultRow, Warehouse } from '@claims-cdc/shared/warehouse/port';
import { destinationColumnHashQuery, destinationHashQuery, stagedClaimsQuery } from '@claims-cdc/shared/warehouse/row-hash';
import { compareHashes, differingColumns, type ItemHash } from './compare';
import { scanTable } from './scan';

/** What one run is asked to do. */
export interface ReconcileRequest {
  /** Send snapshot rows (and deletes) for the missing, extra and differing claims. */
  readonly repair: boolean;
  /** Parallel Scan segments. */
  readonly segments: number;
  /** Most claims per category listed in the report (counts are always complete). */
  readonly reportLimit: number;
  /** Most claims read again for column names and repair in one run. */
  readonly maxRepairs: number;
  /** The snapshot rule's clock-skew margin, ms. */
  readonly marginMs: number;
}

/** What a run needs from the outside. */
export interface ReconcileDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly warehouse: Warehouse;
  readonly dialect: Dialect;
  readonly tableName: string;
  readonly loadQueueUrl: string;
  readonly now?: () => number;
}

/** The counts a run publishes as metrics. */
export interface ReconcileCounts {
  readonly items: number;
  readonly destinationRows: number;
  readonly missing: number;
  readonly extra: number;
  readonly differing: number;
  readonly duplicated: number;
  readonly quarantined: number;
  readonly inFlight: number;
  /** missing + extra + differing: what the drift alarm watches. */
  readonly drifted: number;
  /** Rows sent to the load queue by the repair. */
  readonly repairRowsSent: number;
}

/** The report: claim ids, column names, reasons; never values. Lists are capped at `reportLimit`. */
export interface ReconcileReport {
  readonly counts: ReconcileCounts;
  readonly columns: string[];
  readonly missing: string[];
  readonly extra: string[];
  readonly differing: ReadonlyArray<{ claimId: string; columns: string[] }>;
  readonly duplicated: string[];
  /**
   * Items the pipeline cannot process, with the reason. The deployed function cannot name their quarantine ids: the
   * quarantine is an SQS queue, and reading it would hide its messages from the operator (docs/deploy.md).
   */
  readonly quarantined: ReadonlyArray<{ claimId: string; reason: string }>;
  readonly inFlight: string[];
  /** Claims that differed in the Scan but no longer when read again (a change that landed meanwhile). */
  readonly converged: string[];
  /** What the repair sent, by claim id. */
  readonly repair: { readonly snapshots: string[]; readonly deletes: string[]; readonly skipped: number } | null;
  /** True when some lists were cut at `reportLimit` or some claims not examined beyond `maxRepairs`. */
  readonly truncated: boolean;
}

/** The repair could not put every row on the load queue (running it again is harmless: same event ids per read). */
export class ReconcileRepairError extends Error {
  override readonly name = 'ReconcileRepairError';
}

const byClaim = (rows: readonly ResultRow[]): Map<string, string[]> => {
  const map = new Map<string, string[]>();
  for (const row of rows) {
    const id = String(row.claimId);
    map.set(id, [...(map.get(id) ?? []), String(row.rowHash)]);
  }
  return map;
};

/** The item hashes of a whole-table Scan: the hash of each item's snapshot row, or why it is rejected. */
async function hashItems(deps: ReconcileDeps, request: ReconcileRequest): Promise<Map<string, ItemHash>> {
  const items = new Map<string, ItemHash>();
  await scanTable(deps.dynamodb, { tableName: deps.tableName, segments: request.segments, ...(deps.now ? { now: deps.now } : {}) }, (item, requestedAtMs) => {
    const claimId = String(item.claim_id?.S ?? '');
    try {
      items.set(claimId, { hash: rowHash(snapshotRow(item, deps.tableName, { reader: 'reconcile', requestedAtMs, marginMs: request.marginMs })) });
    } catch (error) {
      items.set(claimId, { rejected: toRejection(error).message });
    }
  });
  return items;
}

/** One claim read again now: its snapshot row, null when DynamoDB no longer holds it, or a rejection. */
type Reread = { readonly row: ClaimRow } | { readonly gone: true } | { readonly rejected: string };

async function reread(deps: ReconcileDeps, claimIds: readonly string[], read: SnapshotRead): Promise<Map<string, Reread>> {
  const result = new Map<string, Reread>();
  for (const claimId of claimIds) {
    const reply = await deps.dynamodb.send(new GetItemCommand({ TableName: deps.tableName, Key: { claim_id: { S: claimId } }, ConsistentRead: true }));
    if (!reply.Item) {
      result.set(claimId, { gone: true });
      continue;
    }
    try {
      result.set(claimId, { row: snapshotRow(reply.Item as unknown as WireItem, deps.tableName, read) });
    } catch (error) {
      result.set(claimId, { rejected: toRejection(error).message });
    }
  }
  return result;
}

/** Claims per query of per-column hashes. */
const COLUMN_QUERY_BATCH = 500;

/** One reconciliation run. */
export async function reconcile(deps: ReconcileDeps, request: ReconcileRequest): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const items = await hashItems(deps, request);
  // Read after the Scan: a row merged while the Scan ran is compared with a page read before it (then it differs,
  // and the consistent re-read below sorts it out).
  const destinationRows = await deps.warehouse.query(destinationHashQuery(deps.dialect));
  const staged = new Set((await deps.warehouse.query(stagedClaimsQuery())).map((r) => String(r.claimId)));
  const comparison = compareHashes(items, byClaim(destinationRows), staged);

  // Read again what differs, after taking the request time: its snapshot rows then reflect every earlier write.
  const suspects = [...comparison.missing, ...comparison.differing, ...comparison.extra];
  const examined = suspects.slice(0, request.maxRepairs);
  const read: SnapshotRead = { reader: 'reconcile-repair', requestedAtMs: now(), marginMs: request.marginMs };
  const current = await reread(deps, examined, read);
  const columnsOf = new Map<string, ResultRow>();
  const missingSet = new Set(comparison.missing);
  const extraSet = new Set(comparison.extra);
  const destinationIds = examined.filter((id) => !missingSet.has(id));
  // In batches: one IN list of thousands of literals makes a statement of hundreds of KB.
  for (let start = 0; start < destinationIds.length; start += COLUMN_QUERY_BATCH) {
    const batch = destinationIds.slice(start, start + COLUMN_QUERY_BATCH);
    for (const row of await deps.warehouse.query(destinationColumnHashQuery(deps.dialect, batch))) columnsOf.set(String(row.claimId), row);
  }
  const names = HASHED_COLUMNS.map((c) => c.name);
  const converged = new Set<string>();
  // An extra claim whose item exists when read again was created after the Scan passed it: compared as differing.
  const reappeared = new Set<string>();
  const rejectedNow: Array<{ claimId: string; reason: string }> = [];
  const differing: Array<{ claimId: string; columns: string[] }> = [];
  const toSnapshot: ClaimRow[] = [];
  const toDelete: string[] = [];
  const examinedSet = new Set(examined);
  for (const claimId of examined) {
    const state = current.get(claimId) as Reread;
    const destination = columnsOf.get(claimId);
    if ('gone' in state) {
      if (destination === undefined) converged.add(claimId);
      else {
        toDelete.push(claimId);
        if (!extraSet.has(claimId)) differing.push({ claimId, columns: names });
      }
      continue;
    }
    if ('rejected' in state) {
      // Became unprocessable meanwhile: the stream's change of it is quarantined.
      rejectedNow.push({ claimId, reason: state.rejected });
      continue;
    }
    const columns = differingColumns(columnHashes(state.row), destination, names);
    if (columns.length === 0) {
      converged.add(claimId);
      continue;
    }
    if (extraSet.has(claimId)) reappeared.add(claimId);
    if (!missingSet.has(claimId)) differing.push({ claimId, columns });
    toSnapshot.push(state.row);
  }
  // Claims beyond maxRepairs: listed without column names.
  for (const claimId of comparison.differing) if (!examinedSet.has(claimId)) differing.push({ claimId, columns: [] });

  let repair: ReconcileReport['repair'] = null;
  let repairRowsSent = 0;
  if (request.repair) {
    const rows = [...toSnapshot, ...toDelete.map((id) => snapshotDeleteRow(id, deps.tableName, read))];
    const { messages, oversized } = packRows(rows);
    const failures = await sendBodies(deps.sqs, deps.loadQueueUrl, messages.map((m) => m.body));
    if (failures.size > 0) throw new ReconcileRepairError(`${failures.size} repair message(s) could not be sent: ${[...failures.values()][0]?.message}`);
    const tooLarge = new Set(oversized.map((o) => o.rowIndex));
    const sent = rows.filter((_, i) => !tooLarge.has(i));
    repairRowsSent = sent.length;
    repair = {
      snapshots: sent.filter((r) => r.eventName !== 'REMOVE').map((r) => String(r.claimId)).sort(),
      deletes: sent.filter((r) => r.eventName === 'REMOVE').map((r) => String(r.claimId)).sort(),
      skipped: suspects.length - examined.length + oversized.length,
    };
  }

  const rejectedIds = new Set(rejectedNow.map((r) => r.claimId));
  const stillDrifting = (list: readonly string[]) => list.filter((id) => !converged.has(id) && !reappeared.has(id) && !rejectedIds.has(id));
  const quarantined = [...comparison.quarantined, ...rejectedNow].sort((x, y) => (x.claimId < y.claimId ? -1 : 1));
  const missing = stillDrifting(comparison.missing);
  const extra = stillDrifting(comparison.extra);
  const differingNow = differing.sort((a, b) => (a.claimId < b.claimId ? -1 : 1));
  const cap = <T>(list: readonly T[]): T[] => list.slice(0, request.reportLimit);
  const counts: ReconcileCounts = {
    items: items.size,
    destinationRows: destinationRows.length,
    missing: missing.length,
    extra: extra.length,
    differing: differingNow.length,
    duplicated: comparison.duplicated.length,
    quarantined: quarantined.length,
    inFlight: comparison.inFlight.length,
    drifted: missing.length + extra.length + differingNow.length,
    repairRowsSent,
  };
  const convergedIds = [...converged].sort();
  const lists = [missing, extra, differingNow, comparison.duplicated, quarantined, comparison.inFlight, convergedIds];
  return {
    counts,
    columns: names,
    missing: cap(missing),
    extra: cap(extra),
    differing: cap(differingNow),
    duplicated: cap(comparison.duplicated),
    quarantined: cap(quarantined),
    inFlight: cap(comparison.inFlight),
    converged: cap(convergedIds),
    repair,
    truncated: suspects.length > examined.length || lists.some((l) => l.length > request.reportLimit),
  };
}
