/**
 * The `exotic-values` fault: attributes of every DynamoDB type the claim schema does not know, and numbers at the
 * edge of what DynamoDB stores (38 significant digits) in attributes it does know. Each must arrive exactly: the raw
 * image keeps every number's decimal text, sets, binary (base64), null, empty and nested lists and maps.
 *
 * Numbers are written in DynamoDB's own normal form (no exponent, no leading zeros, no trailing fractional zeros):
 * DynamoDB stores a number's value, not its text, and gives `1.50` back as `1.5` (so does the emulator), so only a
 * normal-form text can be expected back byte for byte. Nothing here is PHI: digits, fixed words and random bytes.
 */
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import type { Claim, Prng } from '@claims-cdc/shared';

export { NumberValue };

/** The unknown attributes this fault adds (none is in the claim schema). */
export const EXOTIC_ATTRIBUTES = [
  'ledger_ref',
  'rate_exact',
  'tiny_exact',
  'tags',
  'limits',
  'scan',
  'scans',
  'void_note',
  'empty_list',
  'empty_map',
  'nested_ledger',
] as const;

/** `length` digits, the first not 0. */
const digits = (rng: Prng, length: number): string => `${rng.int(1, 9)}${rng.digits(length - 1)}`;

/** A 38-digit integer, sometimes negative. */
export const integer38 = (rng: Prng): string => `${rng.next() < 0.3 ? '-' : ''}${digits(rng, 38)}`;

/** A decimal below 1 with 38 significant digits after `leadingZeros` zeros (normal form: the last digit is not 0). */
const decimal38 = (rng: Prng, leadingZeros = 0): string => `0.${'0'.repeat(leadingZeros)}${rng.int(1, 9)}${rng.digits(36)}${rng.int(1, 9)}`;

const bytes = (rng: Prng, length: number): Uint8Array => Uint8Array.from({ length }, () => rng.int(0, 255));

/** Two different byte strings (a binary set holds no duplicates). */
const twoBlobs = (rng: Prng): Uint8Array[] => {
  const a = bytes(rng, rng.int(1, 24));
  const b = bytes(rng, a.length + 1);
  return [a, b];
};

/**
 * A fresh set of exotic attributes: each call returns different numbers and bytes, so writing it always changes the
 * item (a write that changes nothing emits no stream record).
 */
export function exoticAttributes(rng: Prng): Record<(typeof EXOTIC_ATTRIBUTES)[number], unknown> {
  return {
    // N: 38-digit integer (unmarshall would make it a BigInt, which JSON.stringify cannot print).
    ledger_ref: new NumberValue(integer38(rng)),
    // N: 38 significant digits after the point (a double keeps 17).
    rate_exact: new NumberValue(decimal38(rng)),
    // N: 38 significant digits, 40 places after the point.
    tiny_exact: new NumberValue(decimal38(rng, 40)),
    // SS, NS (one 38-digit member), B, BS, NULL, empty L, empty M.
    tags: new Set(['audit', `batch-${rng.digits(6)}`, 'reviewed']),
    limits: new Set([new NumberValue(digits(rng, 38)), new NumberValue(String(rng.int(1, 999))), new NumberValue(`-${rng.int(1, 9)}.${rng.int(1, 9)}`)]),
    scan: bytes(rng, rng.int(1, 48)),
    scans: new Set(twoBlobs(rng)),
    void_note: null,
    empty_list: [],
    empty_map: {},
    // M nesting a 38-digit number, a list with numbers and maps, a boolean.
    nested_ledger: {
      balance: new NumberValue(integer38(rng)),
      entries: [new NumberValue(decimal38(rng)), { amount: new NumberValue(digits(rng, 38)), settled: rng.next() < 0.5 }, []],
      flags: { locked: false, note: null },
    },
  };
}

/**
 * Known attributes at the edge, still valid for the claim schema: `total_charge` a 38-digit number (the FLOAT column
 * holds its double; the raw image its digits) and the first procedure's `charge` a 38-significant-digit decimal (the
 * procedure-details JSON column keeps its digits).
 */
export function exoticKnownAttributes(rng: Prng, claim: Claim): Partial<Claim> {
  const procedures = claim.procedure_details.map((p, i) => (i === 0 ? { ...p, charge: new NumberValue(`${rng.int(1, 9999)}.${rng.digits(33)}${rng.int(1, 9)}`) as unknown as number } : p));
  return { total_charge: new NumberValue(digits(rng, 38)) as unknown as number, procedure_details: procedures };
}

/** A number of the model as a double (a `NumberValue` of the exotic fault, or a plain number). */
export const asNumber = (value: unknown): number => Number(value instanceof NumberValue ? value.toString() : value);

/**
 * A deep copy of an item that keeps what `structuredClone` would lose: a `NumberValue` stays one (structuredClone
 * makes it a plain object, which would be written as a map). Sets and bytes are copied.
 */
export function cloneItem<T>(value: T): T {
  if (value instanceof NumberValue) return value;
  if (ArrayBuffer.isView(value)) return Uint8Array.from(value as unknown as Uint8Array) as unknown as T;
  if (value instanceof Set) return new Set([...value].map(cloneItem)) as unknown as T;
  if (Array.isArray(value)) return value.map(cloneItem) as unknown as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cloneItem(v)])) as T;
  return value;
}
