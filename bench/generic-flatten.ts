/**
 * The generic way to turn a claim image into a row, as the quickstart's Openflow flow does it: a general-purpose
 * flattener (NiFi FlattenJson, default "keep-arrays" mode: nested objects become dotted keys, arrays stay as they
 * are) followed by a rename map applied key by key (a JoltTransformJSON "shift" spec). Used only to compare
 * against our registry-driven `toClaimRow`; it must produce the same rows, which the transform stage checks.
 */
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { type ChangeEvent, CLAIM_COLUMNS, type ClaimRow, ROW_COLUMNS } from '@claims-cdc/shared';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Set);

/** FlattenJson (keep-arrays): `{a: {b: 1}, c: [..]}` → `{"a.b": 1, "c": [..]}`. Knows nothing about claims. */
export const flattenJson = (value: Json, separator = '.', prefix = '', out: Json = {}): Json => {
  for (const key of Object.keys(value)) {
    const child = value[key];
    const path = prefix === '' ? key : `${prefix}${separator}${key}`;
    if (isObject(child) && Object.keys(child).length > 0) flattenJson(child, separator, path, out);
    else out[path] = child;
  }
  return out;
};

/**
 * The Jolt shift spec as data: flattened source key → column name. Written out from the quickstart's mapping
 * (the registry holds the same pairs; a Jolt spec is a separate hand-maintained copy, which is the point).
 */
export const RENAME_SPEC: Readonly<Record<string, string>> = Object.fromEntries(
  CLAIM_COLUMNS.filter((c) => c.source.kind === 'image').map((c) => [(c.source as { path: readonly string[] }).path.join('.'), c.name]),
);

const setsAsArrays = (_key: string, value: unknown): unknown => (value instanceof Set ? [...value] : value);

const cell = (value: unknown): string | number | null => {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value, setsAsArrays);
};

/** Column names in table order, so generic rows serialize exactly like ours. */
const EMPTY_ROW_KEYS = ROW_COLUMNS.map((c) => c.name);

/**
 * Flatten + shift one change into a row (the same columns and values as `toClaimRow` for ordinary claims). The image
 * is first read with the SDK's generic `unmarshall`, as a general-purpose flow reads DynamoDB JSON (it rounds
 * numbers beyond a double and turns sets into `Set`s, which our lossless reader does not).
 */
export const genericClaimRow = (event: ChangeEvent): ClaimRow => {
  const wireImage = event.newImage ?? event.oldImage;
  const image = wireImage === undefined ? undefined : (unmarshall(wireImage as unknown as Parameters<typeof unmarshall>[0]) as Json);
  const row: ClaimRow = {};
  for (const name of EMPTY_ROW_KEYS) row[name] = null;
  row.eventName = event.eventName;
  row.eventCreationUnixTime = event.eventCreationUnixTime;
  if (image !== undefined) {
    const flat = flattenJson(image);
    for (const key of Object.keys(flat)) {
      const target = RENAME_SPEC[key];
      if (target !== undefined) row[target] = cell(flat[key]);
    }
    row.rawImage = JSON.stringify(image, setsAsArrays);
  }
  row.eventId = event.eventId;
  row.sequenceNumber = event.sequenceNumber;
  row.claimId = event.claimId;
  return row;
};
