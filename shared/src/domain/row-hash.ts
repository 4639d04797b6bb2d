/**
 * THE row hash reconciliation compares DynamoDB with the destination by: SHA-256 (hex) of a canonical text built
 * from the registry's image columns. This file computes it from a flattened row (the item side, in TypeScript);
 * `warehouse/row-hash.ts` computes the same text in SQL for each dialect, from the same registry and the same rules
 * below, so a row the pipeline stored unchanged hashes the same on both sides.
 *
 * Canonical text of one column value (the field), chosen so every engine produces it exactly:
 * - NULL → `~N`; otherwise the value's text with `~` → `~~` and `|` → `~|` (an escape without backslashes, which
 *   Snowflake string literals would interpret); fields joined by `|`. Injective: a field never contains a bare `|`,
 *   and `~N` cannot come from a value.
 * - STRING / VARCHAR1 (JSON-encoded lists and maps included: the destination holds the pipeline's exact JSON text):
 *   the text itself.
 * - INTEGER: decimal digits (the cell rules keep them within ±2^53, so both sides have them exactly).
 * - FLOAT: the integer `ROUND(value × 1e6)` — the product in IEEE double arithmetic (as SQL computes `x * 1e6`),
 *   rounded half away from zero (DuckDB's and Snowflake's ROUND of a double, JS `Math.round` of the magnitude) — in
 *   decimal digits (an integral double converts to DECIMAL/NUMBER(38,0) exactly); `~big+` / `~big-` once the product
 *   leaves NUMBER(38,0) (|value| ≥ about 1e32: a change between two such values goes unnoticed). Microunits, so a
 *   change in the 7th decimal or beyond is not seen. Not the double's shortest text (Snowflake prints FLOAT with
 *   about 15 significant digits), and not a cast to DECIMAL(38,6): DuckDB computes that cast with a double
 *   multiplication too, so it disagrees with the exact decimal value (JS `toFixed`) from about 1e9 on.
 * - TIMESTAMP_NTZ: `YYYY-MM-DD HH:MM:SS.ffffff`, microseconds truncated (DuckDB's TIMESTAMP keeps microseconds,
 *   Snowflake's `FF6` truncates its nanoseconds): a change in the 7th to 9th fractional digit goes unnoticed.
 *
 * Pure (hashing only).
 */
import { createHash } from 'node:crypto';
import { type ClaimRow, type ColumnSpec, IMAGE_COLUMNS } from './columns';

/** The columns hashed: every one the registry derives from the item image (not event metadata such as eventName). */
export const HASHED_COLUMNS: readonly ColumnSpec[] = IMAGE_COLUMNS;

/** The field of a NULL value. */
export const NULL_FIELD = '~N';

/** What separates the fields of a row's canonical text. */
export const FIELD_SEPARATOR = '|';

/** FLOAT values are hashed in units of 1/FLOAT_SCALE (microunits). */
export const FLOAT_SCALE = 1e6;

/** Where the scaled FLOAT leaves NUMBER(38,0)'s range and the value is hashed by its sign only. */
export const FLOAT_LIMIT = 1e38;

/** A value of a type the row hash does not define (JSON is not among the image columns). */
export class RowHashError extends Error {
  override readonly name = 'RowHashError';
}

const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/;

const floatText = (value: number): string => {
  const scaled = value * FLOAT_SCALE;
  if (!(Math.abs(scaled) < FLOAT_LIMIT)) return value < 0 ? '~big-' : '~big+';
  // BigInt of an integral double is exact; -0 becomes 0.
  return BigInt(Math.sign(scaled) * Math.round(Math.abs(scaled))).toString();
};

/** The canonical text of one value of `column`, before escaping (null for NULL). */
export const canonicalText = (column: ColumnSpec, value: string | number | null | undefined): string | null => {
  if (value === null || value === undefined) return null;
  switch (column.type) {
    case 'STRING':
    case 'VARCHAR1':
      return String(value);
    case 'INTEGER':
      return String(value);
    case 'FLOAT':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new RowHashError(`${column.name}: not a finite number`);
      return floatText(value);
    case 'TIMESTAMP_NTZ': {
      const match = TIMESTAMP.exec(String(value));
      if (match === null) throw new RowHashError(`${column.name}: not a UTC timestamp`);
      return `${match[1]} ${match[2]}.${(match[3] ?? '').padEnd(6, '0').slice(0, 6)}`;
    }
    case 'JSON':
      throw new RowHashError(`${column.name}: JSON columns are not hashed`);
  }
};

/** The field of one value: escaped canonical text, or {@link NULL_FIELD}. */
export const fieldText = (column: ColumnSpec, value: string | number | null | undefined): string => {
  const text = canonicalText(column, value);
  return text === null ? NULL_FIELD : text.replaceAll('~', '~~').replaceAll('|', '~|');
};

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The canonical text of a row: its {@link HASHED_COLUMNS} fields joined by {@link FIELD_SEPARATOR}. */
export const canonicalRow = (row: Readonly<ClaimRow>): string => HASHED_COLUMNS.map((c) => fieldText(c, row[c.name])).join(FIELD_SEPARATOR);

/** The row hash: SHA-256, lowercase hex, of {@link canonicalRow}. */
export const rowHash = (row: Readonly<ClaimRow>): string => sha256(canonicalRow(row));

/** Per column name, SHA-256 of its field: which columns differ, without any value leaving either side. */
export const columnHashes = (row: Readonly<ClaimRow>): Record<string, string> =>
  Object.fromEntries(HASHED_COLUMNS.map((c) => [c.name, sha256(fieldText(c, row[c.name]))]));
