import { attributeAt, itemJson, toExactJson, toPlain } from './attribute-value';
import type { ChangeEvent } from './change-event';
import type { WireItem } from './change-record';
import { type ClaimRow, type ColumnSpec, ROW_COLUMNS } from './columns';

/**
 * A scalar column's value from one attribute: numbers stay numbers for FLOAT/INTEGER columns; text columns get the
 * string, or for other types the attribute's exact JSON text (a number's exact digits, a list as JSON).
 */
const scalar = (column: ColumnSpec, value: Record<string, unknown>, path: string): string | number | null => {
  if ('NULL' in value) return null;
  if (column.type === 'FLOAT' || column.type === 'INTEGER') {
    const plain = toPlain(value, path);
    return typeof plain === 'number' ? plain : toExactJson(value, path);
  }
  if ('S' in value) return toPlain(value, path) as string;
  return toExactJson(value, path);
};

const valueOf = (column: ColumnSpec, event: ChangeEvent, image: WireItem | undefined): string | number | null => {
  const source = column.source;
  switch (source.kind) {
    case 'event':
      return event[source.field];
    case 'image': {
      const value = attributeAt(image, source.path);
      const path = source.path.join('.');
      if (value === undefined) return null;
      return source.encode === 'json' ? toExactJson(value, path) : scalar(column, value, path);
    }
    case 'rawImage':
      return image === undefined ? null : itemJson(image);
    case 'warehouse':
      return null;
  }
};

/**
 * Flattens a change into its row: the 32 quickstart columns plus event metadata, keyed by column name.
 * A REMOVE carries its OldImage (when the stream has one) so the audit history shows what was deleted;
 * the key always comes from the event. JSON columns and `rawImage` are written from the wire images, so every
 * number keeps its exact digits (`attribute-value.ts` says how each DynamoDB type appears).
 *
 * @throws AttributeValueError when an image is not valid DynamoDB JSON (decode has already checked it).
 */
export const toClaimRow = (event: ChangeEvent): ClaimRow => {
  const image = event.newImage ?? event.oldImage;
  const row: ClaimRow = {};
  for (const column of ROW_COLUMNS) row[column.name] = valueOf(column, event, image);
  row.claimId = event.claimId;
  return row;
};
