/**
 * DynamoDB JSON (AttributeValue) read without loss. `@aws-sdk/util-dynamodb`'s `unmarshall` turns a 38-digit N into
 * a BigInt (which `JSON.stringify` cannot print) and a high-precision N into a rounded double, so the pipeline reads
 * the wire format itself: {@link toPlain} for typed checks and columns, {@link toExactJson} for the raw image and
 * the JSON columns, where every number keeps its exact decimal text.
 *
 * How each DynamoDB type appears in JSON (README, "rawImage"): S → string; N → number, its exact decimal digits (or,
 * when no warehouse could hold it exactly as a number, a string of those digits: see {@link exactNumberJson});
 * B → base64 string; BOOL → true/false; NULL → null; L → array; M → object; SS → array of strings; NS → array of
 * numbers; BS → array of base64 strings.
 */
import type { WireItem } from './change-record';

/** One DynamoDB attribute value on the wire. */
export type AttributeValue = Record<string, unknown>;

/** A wire value that is not valid DynamoDB JSON. `path` names the attribute, never its value. */
export class AttributeValueError extends Error {
  override readonly name = 'AttributeValueError';

  constructor(readonly path: string) {
    super(`${path || '(item)'} is not a valid DynamoDB attribute value`);
  }
}

// DynamoDB's number syntax: optional sign, digits with an optional point, optional exponent.
const NUMBER = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * A DynamoDB number's text as a valid JSON number with every digit kept ("+.50" → "0.50", "007" → "7", "5." → "5").
 * @throws AttributeValueError when the text is not a number.
 */
export const jsonNumber = (text: unknown, path: string): string => {
  const match = typeof text === 'string' ? NUMBER.exec(text.trim()) : null;
  const [, sign = '', int = '', frac, exp] = match ?? [];
  if (!match || (int === '' && (frac === undefined || frac === ''))) throw new AttributeValueError(path);
  const whole = int.replace(/^0+(?=\d)/, '') || '0';
  return `${sign === '-' ? '-' : ''}${whole}${frac ? `.${frac}` : ''}${exp === undefined ? '' : `e${exp}`}`;
};

/** Snowflake's NUMBER: at most 38 digits in all, at most 37 of them after the point (DuckDB keeps text exactly). */
const MAX_PRECISION = 38;
const MAX_SCALE = 37;

/**
 * True when a JSON number token fits NUMBER(38, s ≤ 37) as written, so PARSE_JSON keeps it exact in a VARIANT.
 * Conservative: trailing zeros count, so `1.000…0` with 40 zeros is not "fitting" even though its value would be.
 */
export const fitsExactDecimal = (token: string): boolean => {
  const [, int = '', frac = '', exp = '0'] = /^-?(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/.exec(token) ?? [];
  const digits = `${int}${frac}`.replace(/^0+/, '') || '0';
  const scale = frac.length - Number(exp);
  if (scale > MAX_SCALE) return false;
  const integerDigits = Math.max(digits.length - Math.max(scale, 0), 0) + Math.max(-scale, 0);
  return integerDigits + Math.max(scale, 0) <= MAX_PRECISION;
};

/**
 * A DynamoDB number as JSON: a number token with every digit kept when a warehouse can hold it exactly; otherwise
 * (more than 37 digits after the point, or beyond 38 digits in all, such as `1E-130` or `0.` followed by 38 digits)
 * a JSON string of those digits, because Snowflake's PARSE_JSON would make such a number a double and round it.
 */
export const exactNumberJson = (text: unknown, path: string): string => {
  const token = jsonNumber(text, path);
  return fitsExactDecimal(token) ? token : JSON.stringify(token);
};

const onlyType = (value: unknown, path: string): [string, unknown] => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AttributeValueError(path);
  const entries = Object.entries(value as AttributeValue).filter(([, v]) => v !== undefined);
  if (entries.length !== 1) throw new AttributeValueError(path);
  return entries[0] as [string, unknown];
};

const list = (value: unknown, path: string, nonEmpty: boolean): unknown[] => {
  if (!Array.isArray(value) || (nonEmpty && value.length === 0)) throw new AttributeValueError(path);
  return value;
};

const text = (value: unknown, path: string): string => {
  if (typeof value !== 'string') throw new AttributeValueError(path);
  return value;
};

const base64 = (value: unknown, path: string): string => {
  // Lambda's stream records carry binary as base64 text; the SDK may hand us bytes.
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const s = text(value, path);
  if (!BASE64.test(s) || s.length % 4 !== 0) throw new AttributeValueError(path);
  return s;
};

const map = (value: unknown, path: string): AttributeValue => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AttributeValueError(path);
  return value as AttributeValue;
};

/**
 * The exact JSON text of one attribute value (see the module comment for each type).
 * @throws AttributeValueError naming the attribute path when the value is not DynamoDB JSON.
 */
export const toExactJson = (value: unknown, path = ''): string => {
  const [type, v] = onlyType(value, path);
  switch (type) {
    case 'S':
      return JSON.stringify(text(v, path));
    case 'N':
      return exactNumberJson(v, path);
    case 'B':
      return JSON.stringify(base64(v, path));
    case 'BOOL':
      if (typeof v !== 'boolean') throw new AttributeValueError(path);
      return String(v);
    case 'NULL':
      if (v !== true) throw new AttributeValueError(path);
      return 'null';
    case 'L':
      return `[${list(v, path, false).map((item, i) => toExactJson(item, `${path}[${i}]`)).join(',')}]`;
    case 'M':
      return itemJson(map(v, path), path);
    case 'SS':
      return `[${list(v, path, true).map((s) => JSON.stringify(text(s, path))).join(',')}]`;
    case 'NS':
      return `[${list(v, path, true).map((n) => exactNumberJson(n, path)).join(',')}]`;
    case 'BS':
      return `[${list(v, path, true).map((b) => JSON.stringify(base64(b, path))).join(',')}]`;
    default:
      throw new AttributeValueError(path);
  }
};

/** The exact JSON text of a whole item (a map of attribute values). */
export const itemJson = (item: AttributeValue | WireItem, path = ''): string =>
  `{${Object.entries(item)
    .map(([name, value]) => `${JSON.stringify(name)}:${toExactJson(value, path ? `${path}.${name}` : name)}`)
    .join(',')}}`;

/**
 * The plain JavaScript value of an attribute, for typed checks and the typed columns: numbers become doubles
 * (the FLOAT/INTEGER columns are doubles and 64-bit integers anyway; exact text lives in {@link toExactJson}),
 * sets become arrays, binary its base64 text.
 */
export const toPlain = (value: unknown, path = ''): unknown => {
  const [type, v] = onlyType(value, path);
  switch (type) {
    case 'N':
      return Number(jsonNumber(v, path));
    case 'L':
      return list(v, path, false).map((item, i) => toPlain(item, `${path}[${i}]`));
    case 'M':
      return plainItem(map(v, path), path);
    case 'NS':
      return list(v, path, true).map((n) => Number(jsonNumber(n, path)));
    default:
      return JSON.parse(toExactJson(value, path));
  }
};

/** The plain object of a whole item. */
export const plainItem = (item: AttributeValue | WireItem, path = ''): Record<string, unknown> =>
  Object.fromEntries(Object.entries(item).map(([name, value]) => [name, toPlain(value, path ? `${path}.${name}` : name)]));

/** The attribute value at a path of map keys (`['patient', 'zip']`), or undefined when absent. */
export const attributeAt = (item: WireItem | undefined, path: readonly string[]): AttributeValue | undefined => {
  let current: AttributeValue | undefined = item as AttributeValue | undefined;
  for (const [i, key] of path.entries()) {
    const next = current?.[key];
    if (next === undefined || next === null || typeof next !== 'object') return undefined;
    if (i === path.length - 1) return next as AttributeValue;
    const inner = (next as AttributeValue).M;
    if (inner === undefined || inner === null || typeof inner !== 'object') return undefined;
    current = inner as AttributeValue;
  }
  return undefined;
};
