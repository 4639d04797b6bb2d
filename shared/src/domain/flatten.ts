import type { ChangeEvent } from './change-event';
import { type ClaimRow, type ColumnSpec, ROW_COLUMNS } from './columns';

const at = (image: Record<string, unknown> | undefined, path: readonly string[]): unknown => {
  let value: unknown = image;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
};

const scalar = (value: unknown): string | number | null => {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value, setsAsArrays);
};

// DynamoDB string/number sets unmarshall to Set, which JSON.stringify would print as {}.
const setsAsArrays = (_key: string, value: unknown): unknown => (value instanceof Set ? [...value] : value);

const valueOf = (column: ColumnSpec, event: ChangeEvent, image: Record<string, unknown> | undefined): string | number | null => {
  const source = column.source;
  switch (source.kind) {
    case 'event':
      return event[source.field];
    case 'image': {
      const value = at(image, source.path);
      if (source.encode === 'json') return value === undefined ? null : JSON.stringify(value, setsAsArrays);
      return scalar(value);
    }
    case 'rawImage':
      return image === undefined ? null : JSON.stringify(image, setsAsArrays);
    case 'warehouse':
      return null;
  }
};

/**
 * Flattens a change into its row: the 32 quickstart columns plus event metadata, keyed by column name.
 * A REMOVE carries its OldImage (when the stream has one) so the audit history shows what was deleted;
 * the key always comes from the event.
 */
export const toClaimRow = (event: ChangeEvent): ClaimRow => {
  const image = event.newImage ?? event.oldImage;
  const row: ClaimRow = {};
  for (const column of ROW_COLUMNS) row[column.name] = valueOf(column, event, image);
  row.claimId = event.claimId;
  return row;
};
