/**
 * The transform's fast path: one pass from the base64 `kinesis.data` of a claim change to its row's JSON text, for
 * the records a healthy table sends. It builds one plain object per image (the `rawImage` and every column come from
 * it, with one `JSON.stringify` each and no replacer) and checks the record and the claim by hand instead of through
 * the zod schemas.
 *
 * It accepts a strict subset of what the reference decoder (`decodeKinesisData` → `toClaimRow` → `checkRow`)
 * accepts, and for that subset writes byte-identical rows: every number must be written in its canonical form (the
 * text `String(Number(text))` gives back, so `JSON.stringify` prints exactly the digits the stream sent), and no
 * binary, unknown type, odd key or unusual envelope is handled here. For anything else it returns `undefined` and the
 * caller runs the reference decoder, which accepts it or produces the rejection and its reason. It never rejects on
 * its own. `fast-decode.test.ts` checks this against the reference decoder on mutated real records.
 */
import { isCalendarDate, isCalendarTimestamp } from './cell-rules';
import { CLAIM_ID_PATTERN, CLAIM_STATUSES, CPT_PATTERN, CREATED_TIMESTAMP_PATTERN, ICD10_PATTERN, isValidNpi, PAYMENT_STATUSES } from './claim';
import { type ColumnSpec, ROW_COLUMNS } from './columns';
import { eventMicros } from './event-time';
import { MAX_SEQUENCE_DIGITS } from './merge-rules';

type Plain = Record<string, unknown>;

/** Returned by the converters below when a value is outside the fast path's subset. */
const DEFER: unique symbol = Symbol('defer');
type Deferred = typeof DEFER;

// A canonical decimal: no sign but '-', no leading zeros, no trailing fractional zeros, no exponent.
const CANONICAL_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
const SEQUENCE = new RegExp(`^\\d{0,${MAX_SEQUENCE_DIGITS}}$`);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

const isObject = (value: unknown): value is Plain => value !== null && typeof value === 'object' && !Array.isArray(value);

/** A number whose text JSON.stringify prints back exactly (so the exact-digits rule of the slow path is kept). */
const canonicalNumber = (text: unknown): number | Deferred => {
  if (typeof text !== 'string' || !CANONICAL_NUMBER.test(text)) return DEFER;
  const n = Number(text);
  return String(n) === text ? n : DEFER;
};

/** The only key of an attribute value, or undefined when it has none or several. */
const onlyKey = (value: Plain): string | undefined => {
  let type: string | undefined;
  for (const key in value) {
    if (type !== undefined) return undefined;
    type = key;
  }
  return type;
};

/** One attribute value as plain JSON (S → string, N → number, M → object, L/SS/NS → array, BOOL, NULL → null). */
const plainValue = (value: unknown): unknown => {
  if (!isObject(value)) return DEFER;
  const type = onlyKey(value);
  const v = type === undefined ? undefined : value[type];
  switch (type) {
    case 'S':
      return typeof v === 'string' ? v : DEFER;
    case 'N':
      return canonicalNumber(v);
    case 'M':
      return plainMap(v);
    case 'L': {
      if (!Array.isArray(v)) return DEFER;
      const out = new Array<unknown>(v.length);
      for (let i = 0; i < v.length; i += 1) if ((out[i] = plainValue(v[i])) === DEFER) return DEFER;
      return out;
    }
    case 'BOOL':
      return typeof v === 'boolean' ? v : DEFER;
    case 'NULL':
      return v === true ? null : DEFER;
    case 'SS':
      if (!Array.isArray(v) || v.length === 0) return DEFER;
      for (const s of v) if (typeof s !== 'string') return DEFER;
      return v;
    case 'NS': {
      if (!Array.isArray(v) || v.length === 0) return DEFER;
      const out = new Array<number>(v.length);
      for (let i = 0; i < v.length; i += 1) {
        const n = canonicalNumber(v[i]);
        if (n === DEFER) return DEFER;
        out[i] = n;
      }
      return out;
    }
    // B and BS read as base64 text, which a text column would print quoted: left to the reference decoder.
    default:
      return DEFER;
  }
};

/** A map of attribute values (an item, or an M) as a plain object, keys in the wire's order. */
const plainMap = (map: unknown): Plain | Deferred => {
  if (!isObject(map)) return DEFER;
  const out: Plain = {};
  for (const key in map) {
    if (key === '__proto__') return DEFER;
    const value = plainValue(map[key]);
    if (value === DEFER) return DEFER;
    out[key] = value;
  }
  return out;
};

/** True when a value is valid DynamoDB JSON within the fast path's subset (an image that is only checked). */
const wireValid = (value: unknown): boolean => {
  if (!isObject(value)) return false;
  const type = onlyKey(value);
  const v = type === undefined ? undefined : value[type];
  switch (type) {
    case 'S':
      return typeof v === 'string';
    case 'N':
      return typeof v === 'string' && CANONICAL_NUMBER.test(v);
    case 'B':
      return typeof v === 'string' && v.length % 4 === 0 && BASE64.test(v);
    case 'BOOL':
      return typeof v === 'boolean';
    case 'NULL':
      return v === true;
    case 'M':
      return wireItemValid(v);
    case 'L':
      return Array.isArray(v) && v.every(wireValid);
    case 'SS':
      return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string');
    case 'NS':
      return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && CANONICAL_NUMBER.test(s));
    case 'BS':
      return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length % 4 === 0 && BASE64.test(s));
    default:
      return false;
  }
};

const wireItemValid = (item: unknown): boolean => {
  if (!isObject(item)) return false;
  for (const key in item) if (!wireValid(item[key])) return false;
  return true;
};

const isString = (value: unknown): value is string => typeof value === 'string';
const isZip = (value: unknown): boolean => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 99_999;
const isDate = (value: unknown): boolean => typeof value === 'string' && isCalendarDate(value);
const CLAIM_STATUS_SET: ReadonlySet<unknown> = new Set(CLAIM_STATUSES);
const PAYMENT_STATUS_SET: ReadonlySet<unknown> = new Set(PAYMENT_STATUSES);
const GENDERS: ReadonlySet<unknown> = new Set(['M', 'F', 'U']);

/**
 * The claim schema (`claim.ts`, `ClaimSchema`) by hand, for a plain image: true only when zod would accept it.
 * Kept in step with the schema by `fast-decode.test.ts` (a rule missing here makes the fast path accept what the
 * reference decoder rejects, and the test fails).
 */
export const isPlainClaim = (claim: Plain): boolean => {
  const { patient, provider, payer, diagnosis_codes: codes, procedure_details: procedures } = claim;
  if (!isString(claim.claim_id) || !CLAIM_ID_PATTERN.test(claim.claim_id)) return false;
  if (!isString(claim.member_id) || !isString(claim.insurance_plan)) return false;
  if (!Array.isArray(codes) || !codes.every((c) => isString(c) && ICD10_PATTERN.test(c))) return false;
  if (!isDate(claim.date_of_service) || !isDate(claim.bill_submit_date)) return false;
  if (typeof claim.total_charge !== 'number') return false;
  if (!Array.isArray(procedures)) return false;
  for (const p of procedures) {
    if (!isObject(p) || !isString(p.procedure_code) || !CPT_PATTERN.test(p.procedure_code) || !isString(p.description) || typeof p.charge !== 'number') return false;
  }
  if (!CLAIM_STATUS_SET.has(claim.claim_status) || !PAYMENT_STATUS_SET.has(claim.payment_status)) return false;
  const created = claim.created_timestamp;
  if (!isString(created) || !CREATED_TIMESTAMP_PATTERN.test(created) || !isCalendarTimestamp(created)) return false;
  if (!isObject(patient) || !isObject(provider) || !isObject(payer)) return false;
  if (!isString(patient.first_name) || !isString(patient.last_name) || !isString(patient.email) || !isString(patient.phone)) return false;
  if (!isDate(patient.date_of_birth) || !GENDERS.has(patient.gender)) return false;
  if (!isString(patient.street) || !isString(patient.city) || !isString(patient.state) || !isZip(patient.zip)) return false;
  if (!isString(provider.name) || !isString(provider.npi) || !isValidNpi(provider.npi)) return false;
  if (!isString(provider.street) || !isString(provider.city) || !isString(provider.state) || !isZip(provider.zip)) return false;
  return isString(payer.name) && isString(payer.payer_id) && isString(payer.contact_number);
};

/** How one row column is read from the event and the plain image, compiled once from the registry. */
type ColumnReader = (event: FastEvent, image: Plain) => unknown;

interface FastEvent {
  readonly eventId: string;
  readonly eventName: string;
  readonly claimId: string;
  readonly eventCreationUnixTime: string;
  readonly sequenceNumber: string;
}

const DEFER_COLUMN = (): Deferred => DEFER;

/** What `flatten.ts` writes for a column, for values the fast path's subset can hold. */
const readerOf = (column: ColumnSpec): ColumnReader => {
  const source = column.source;
  switch (source.kind) {
    case 'event': {
      const field = source.field;
      return (event) => event[field];
    }
    case 'rawImage':
      return DEFER_COLUMN; // written by the caller, from the one stringify of the image
    case 'warehouse':
      return () => null;
    case 'image': {
      const path = source.path;
      const at = (image: Plain): unknown => {
        let current: unknown = image;
        for (const key of path) {
          if (!isObject(current)) return undefined;
          current = current[key];
        }
        return current;
      };
      if (source.encode === 'json') return (_event, image) => {
        const value = at(image);
        return value === undefined ? null : JSON.stringify(value);
      };
      const numeric = column.type === 'FLOAT' || column.type === 'INTEGER';
      // Text columns take strings, numeric columns numbers; anything else is written differently by the reference
      // flatten (exact JSON text), so it is deferred.
      return (_event, image) => {
        const value = at(image);
        if (value === undefined || value === null) return null;
        return (numeric ? typeof value === 'number' : typeof value === 'string') ? value : DEFER;
      };
    }
  }
};

/** Per row column: its key as the row's JSON writes it (`"name":`, after a comma but for the first), its name, its reader. */
const READERS: ReadonlyArray<readonly [string, string, ColumnReader]> = ROW_COLUMNS.map((c, i) => [`${i === 0 ? '' : ','}${JSON.stringify(c.name)}:`, c.name, readerOf(c)] as const);

/** A fast-path row: its JSON text and the text's UTF-8 size. */
export interface FastRow {
  readonly json: string;
  readonly bytes: number;
}

/** Options of {@link fastRowJson}. */
export interface FastDecodeOptions {
  /** The clock implausible times are judged by (as the reference decoder's). */
  readonly nowMs: number;
  /** A REMOVE whose row exceeds this less 1 KiB travels without its old image: left to the reference path. */
  readonly maxMessageBytes: number;
}

const decodeBase64 = (data: string): string | undefined => {
  const length = data.length;
  if (length % 4 !== 0 || data.indexOf('-') !== -1 || data.indexOf('_') !== -1) return undefined;
  const bytes = Buffer.from(data, 'base64');
  // Node's decoder skips characters outside the alphabet and stops at '=': the length tells it met none of those.
  const pad = length === 0 ? 0 : data.charCodeAt(length - 1) !== 61 ? 0 : data.charCodeAt(length - 2) === 61 ? 2 : 1;
  return bytes.length === (length / 4) * 3 - pad ? bytes.toString('utf8') : undefined;
};

/**
 * The row JSON of one claim change, or `undefined` when the record is outside the fast path's subset (the caller
 * then runs the reference decoder). Never throws for any input.
 */
export const fastRowJson = (data: string, sequenceNumber: string, options: FastDecodeOptions): FastRow | undefined => {
  if (!SEQUENCE.test(sequenceNumber)) return undefined;
  const text = decodeBase64(data);
  if (text === undefined) return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(record)) return undefined;
  const { eventID, eventName, dynamodb } = record;
  if (!isString(eventID) || eventID.length === 0 || (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE')) return undefined;
  if (record.eventSource !== 'aws:dynamodb' || record.recordFormat !== 'application/json' || !isString(record.awsRegion) || !isString(record.tableName)) return undefined;
  if (record.userIdentity !== undefined && record.userIdentity !== null) return undefined;
  if (!isObject(dynamodb) || typeof dynamodb.SizeBytes !== 'number') return undefined;
  const { ApproximateCreationDateTime: time, ApproximateCreationDateTimePrecision: precision, Keys: keys, NewImage: newImage, OldImage: oldImage } = dynamodb;
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time <= 0) return undefined;
  if (precision !== undefined && precision !== 'MILLISECOND' && precision !== 'MICROSECOND') return undefined;
  if (!isObject(keys) || onlyKey(keys) !== 'claim_id') return undefined;
  const key = keys.claim_id;
  if (!isObject(key) || onlyKey(key) !== 'S' || !isString(key.S)) return undefined;
  const claimId = key.S;

  // INSERT/MODIFY: the row is the new image; the old one is only checked. REMOVE: the row is the old image.
  const removing = eventName === 'REMOVE';
  const source = removing ? oldImage : newImage;
  const other = removing ? newImage : oldImage;
  // A REMOVE carrying a new image would be flattened from it by the reference path: left to it.
  if (source === undefined || (other !== undefined && (removing || !wireItemValid(other)))) return undefined;
  const image = plainMap(source);
  if (image === DEFER || !isPlainClaim(image) || (!removing && image.claim_id !== claimId)) return undefined;

  let micros: string;
  try {
    micros = eventMicros(time, precision, options.nowMs);
  } catch {
    return undefined;
  }
  const event: FastEvent = { eventId: eventID, eventName, claimId, eventCreationUnixTime: micros, sequenceNumber };
  // The row's JSON text, written column by column in the registry's order (what JSON.stringify of the reference
  // row object gives: the same keys, the same order, each value stringified alike).
  let json = '{';
  for (const [prefix, name, read] of READERS) {
    const value = name === 'rawImage' ? JSON.stringify(image) : name === 'claimId' ? claimId : read(event, image);
    if (value === DEFER) return undefined;
    json += prefix + (value === null ? 'null' : typeof value === 'number' ? String(value) : JSON.stringify(value));
  }
  json += '}';
  const bytes = Buffer.byteLength(json);
  if (removing && bytes > options.maxMessageBytes - 1024) return undefined;
  return { json, bytes };
};
