import type { ResultRow } from '@claims-cdc/shared/warehouse/port';

/** Rows as an aligned text table, like a worksheet result. */
export const table = (rows: readonly ResultRow[], maxWidth = 40): string => {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0] as ResultRow);
  const cell = (value: unknown): string => {
    const text = value === null || value === undefined ? 'NULL' : String(value);
    return text.length > maxWidth ? `${text.slice(0, maxWidth - 1)}…` : text;
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string => values.map((v, i) => v.padEnd(widths[i] as number)).join(' | ');
  return [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
};
