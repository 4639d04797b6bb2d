/**
 * What the re-drives should have put in the destination, claim by claim: `verify` compares it with the destination
 * for items the pipeline still cannot process, so a claim whose quarantined change was fixed and re-driven is not
 * reported as failing — only as an item that itself still needs fixing in DynamoDB.
 */
import { checkRow, type ClaimRow, parseChangeRecord, parseRowMessage, toClaimRow } from '@claims-cdc/shared';
import type { QuarantineStore } from './store';

/** The row each claim's last re-drive leads to; `null` when it removed the claim. */
export type RedrivenRows = ReadonlyMap<string, ClaimRow | null>;

/** The rows of one re-driven record, as the pipeline turns it into destination rows. */
function rowsOf(stage: string, record: string): ClaimRow[] {
  if (stage === 'transform') return [checkRow(toClaimRow(parseChangeRecord(record, '')))];
  if (stage === 'load') return parseRowMessage(record);
  return [];
}

/** The rows of every re-driven record in the store (later re-drives of a claim win). */
export function redrivenRows(store: QuarantineStore): RedrivenRows {
  const rows = new Map<string, ClaimRow | null>();
  for (const { entry, record } of store.redrivenRecords()) {
    let parsed: ClaimRow[];
    try {
      parsed = rowsOf(entry.origin.stage, record);
    } catch {
      continue; // It passed these checks when it was re-driven; a record they now reject tells verify nothing.
    }
    for (const row of parsed) rows.set(String(row.claimId), row.eventName === 'REMOVE' ? null : row);
  }
  return rows;
}
