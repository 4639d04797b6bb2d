import type { ClaimRow } from '../domain/columns';
import { type Warehouse, WarehouseDataError } from './port';

/** What {@link stageIsolating} did. */
export interface IsolatedStage {
  /** New events written to staging and history. */
  readonly staged: number;
  /** Stage calls made (1 when the batch went in whole). */
  readonly attempts: number;
  /** Rows the warehouse refused on their own, by position in the input, with its (value-free) reason. */
  readonly rejected: ReadonlyArray<{ readonly index: number; readonly detail: string }>;
}

/**
 * Stages a batch; when the warehouse refuses it for a data error, bisects until the refused rows stand alone, so every
 * other row is staged and exactly the bad ones are returned. Staging is idempotent by event id, so halves that went in
 * before a failure are harmless to send again. Any other error (connection, lock, timeout) is thrown for a retry.
 */
export const stageIsolating = async (warehouse: Warehouse, rows: readonly ClaimRow[], offset = 0): Promise<IsolatedStage> => {
  if (rows.length === 0) return { staged: 0, attempts: 0, rejected: [] };
  try {
    return { staged: (await warehouse.stage(rows)).staged, attempts: 1, rejected: [] };
  } catch (error) {
    if (!(error instanceof WarehouseDataError)) throw error;
    if (rows.length === 1) return { staged: 0, attempts: 1, rejected: [{ index: offset, detail: error.message }] };
    const middle = Math.ceil(rows.length / 2);
    const left = await stageIsolating(warehouse, rows.slice(0, middle), offset);
    const right = await stageIsolating(warehouse, rows.slice(middle), offset + middle);
    return { staged: left.staged + right.staged, attempts: 1 + left.attempts + right.attempts, rejected: [...left.rejected, ...right.rejected] };
  }
};
