/**
 * Change records built from plain items, for tests, the benchmark and the chaos harness: the claims' own objects
 * (`NumberValue`, sets, bytes and null included) marshalled to DynamoDB JSON, then written in the exact record format
 * of `buildWireChangeRecord` (the core's one definition of that format). Lambda code never builds records from plain
 * items, so this lives here, outside the core.
 */
import { marshall } from '@aws-sdk/util-dynamodb';
import { buildWireChangeRecord, type DynamoDBKinesisRecord, type WireChangeInput, type WireItem } from '../src/domain/change-record';

/** What a record says (as `WireChangeInput`), keys and images as plain (unmarshalled) items. */
export interface ChangeRecordInput extends Omit<WireChangeInput, 'keys' | 'newImage' | 'oldImage'> {
  readonly keys: Record<string, unknown>;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
}

/** A plain item as DynamoDB JSON (`NumberValue` keeps a number's exact text; `Set` becomes SS/NS/BS). */
export const marshallImage = (image: Record<string, unknown>): WireItem => marshall(image, { removeUndefinedValues: true }) as unknown as WireItem;

// `marshall` leaves binary (B, BS) as bytes, which JSON.stringify would print as {"0":…}; a stream record carries
// binary as base64 text, as DynamoDB JSON does on the wire. A value holding no bytes comes back as it is (the
// marshalled item is ours alone), rather than copied: the chaos harness's writer builds a record per change, and most
// items hold no bytes.
const base64Binary = (value: unknown): unknown => {
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const mapped = value.map(base64Binary);
    return mapped.some((v, i) => v !== value[i]) ? mapped : value;
  }
  const entries = Object.entries(value);
  const mapped = entries.map(([k, v]) => [k, base64Binary(v)] as const);
  return mapped.some(([, v], i) => v !== entries[i]![1]) ? Object.fromEntries(mapped) : value;
};

/** A plain item as the DynamoDB JSON a stream record carries (binary as base64 text). */
export const wireImage = (image: Record<string, unknown>): WireItem => base64Binary(marshallImage(image)) as WireItem;

/** Builds a record from plain items (marshalled to DynamoDB JSON here; `NumberValue`, sets, bytes and null included). */
export const buildChangeRecord = ({ keys, newImage, oldImage, ...rest }: ChangeRecordInput): DynamoDBKinesisRecord =>
  buildWireChangeRecord({
    ...rest,
    keys: wireImage(keys),
    ...(newImage === undefined ? {} : { newImage: wireImage(newImage) }),
    ...(oldImage === undefined ? {} : { oldImage: wireImage(oldImage) }),
  });
