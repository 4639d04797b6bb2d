import type { ResultRow } from '@claims-cdc/shared/warehouse/port';

const cellText = (value: unknown, maxWidth: number): string => {
  const text = value === null || value === undefined ? 'NULL' : String(value);
  return text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
};

/** Rows as an aligned text table, like a worksheet result. */
export const table = (rows: readonly ResultRow[], maxWidth = 40): string => {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0] as ResultRow);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cellText(r[c], maxWidth).length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join(' | ').trimEnd();
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(columns.map((c) => cellText(r[c], maxWidth))))].join('\n');
};

/** Limits for {@link fittedTable}. */
export interface FitOptions {
  /** Widest line (default 120). */
  width?: number;
  /** Widest cell (default 30). */
  cellWidth?: number;
  /** Most rows shown (default all). */
  maxRows?: number;
}

/**
 * A table that fits a terminal: as many leading columns as fit in `width` (always at least one), at most `maxRows`
 * rows, and a last line saying how many rows there are and what was left out.
 */
export const fittedTable = (rows: readonly ResultRow[], options: FitOptions = {}): string => {
  if (rows.length === 0) return '(no rows)';
  const width = options.width ?? 120;
  const cellWidth = options.cellWidth ?? 30;
  const all = Object.keys(rows[0] as ResultRow);
  const shownRows = rows.slice(0, options.maxRows ?? rows.length);
  const columns: string[] = [];
  let used = 0;
  for (const column of all) {
    const w = Math.max(column.length, ...shownRows.map((r) => cellText(r[column], cellWidth).length));
    const next = used + (columns.length > 0 ? 3 : 0) + w;
    if (columns.length > 0 && next > width) break;
    columns.push(column);
    used = next;
  }
  const projected = shownRows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null])) as ResultRow);
  const notes = [`${rows.length} row${rows.length === 1 ? '' : 's'}`];
  if (shownRows.length < rows.length) notes.push(`first ${shownRows.length} shown`);
  if (columns.length < all.length) notes.push(`first ${columns.length} of ${all.length} columns shown, ${all.length - columns.length} more not shown`);
  return `${table(projected, cellWidth)}\n(${notes.join('; ')})`;
};
