/**
 * The transform's fast path: one pass from the base64 `kinesis.data` of a claim change to its row's JSON text, for
 * the records a healthy table sends. After `JSON.parse` it works on the wire image itself: the claim is checked by
 * hand (`wire-claim.ts`) instead of through the zod schemas, and the row's JSON text is written column by column
 * straight from the DynamoDB JSON (`wire-text.ts`), the `rawImage` included, with no plain object built and no
 * `JSON.stringify` of one.
 *
 * It accepts a strict subset of what the reference decoder (`decodeKinesisData` → `toClaimRow` → `checkRow`)
 * accepts, and for that subset writes byte-identical rows: every number must be written in its canonical form (the
 * text `String(Number(text))` gives back, so the reference prints exactly the digits the stream sent), and no
 * binary, unknown type, odd key or unusual envelope is handled here. For anything else it returns `undefined` and the
 * caller runs the reference decoder, which accepts it or produces the rejection and its reason. It never rejects on
 * its own. `fast-decode.test.ts` checks this against the reference decoder on mutated real records.
 */
import { isAscii } from 'node:buffer';
import { WIRE_EVENT_SOURCE, WIRE_RECORD_FORMAT } from './change-record';
import { type ColumnSpec, ROW_COLUMNS } from './columns';
import { eventMicros } from './event-time';
import { MAX_SEQUENCE_DIGITS } from './merge-rules';
import { isWireClaim } from './wire-claim';
import { isCanonicalNumberText, isObject, keyRoot, onlyKey, type Plain, TextParts, wireAttributeAt, writeInnerItem, writeInnerValue } from './wire-text';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** A Kinesis sequence number as the reference decoder accepts it (decimal digits only, so never escaped). */
const SEQUENCE = new RegExp(`^\\d{0,${MAX_SEQUENCE_DIGITS}}$`);

/** True when a value is valid DynamoDB JSON within the fast path's subset (an image that is only checked). */
const wireValid = (value: unknown): boolean => {
  if (!isObject(value)) return false;
  const type = onlyKey(value);
  const v = type === undefined ? undefined : value[type];
  switch (type) {
    case 'S':
      return typeof v === 'string';
    case 'N':
      return isCanonicalNumberText(v);
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
      return Array.isArray(v) && v.length > 0 && v.every(isCanonicalNumberText);
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

/** The change's fields the event columns read (`eventCreationUnixTime` already in microseconds). */
interface FastEvent {
  readonly eventId: string;
  readonly eventName: string;
  readonly claimId: string;
  readonly eventCreationUnixTime: string;
  readonly sequenceNumber: string;
}

/**
 * Appends one column, key included, to the row's JSON text; false when the value is outside the fast path's subset.
 * `clean` says the record's text has no backslash (see `wire-text.ts`). Numeric columns take an N's text as it is:
 * the row is only kept when the `rawImage` column, written last, found every N of the image canonical.
 */
type ColumnWriter = (out: TextParts, event: FastEvent, image: Plain, clean: boolean) => boolean;

/** A column's key as the row's JSON writes it (`"name":`, after a comma but for the first), alone and with a string's opening quote. */
interface ColumnKey {
  readonly key: string;
  readonly keyQuote: string;
}

/** A string column: key and opening quote in one piece when the text is clean (joining costs per piece). */
const pushString = (out: TextParts, column: ColumnKey, s: string, clean: boolean): void => {
  if (clean) out.add(column.keyQuote, s, '"');
  else out.add(column.key, JSON.stringify(s));
};

/** A column read from the image, written as `flatten.ts` writes it, for values the fast path's subset can hold. */
const imageWriter = (spec: ColumnSpec, column: ColumnKey, path: readonly string[], json: boolean): ColumnWriter => {
  if (json) {
    // The JSON text of the plain value, as a string: what JSON.stringify(JSON.stringify(value)) prints.
    const keys = keyRoot();
    return (out, _event, image, clean) => {
      const attribute = wireAttributeAt(image, path);
      if (attribute === undefined) {
        out.add(column.key, 'null');
        return true;
      }
      out.add(column.keyQuote);
      if (!writeInnerValue(out, attribute, clean, keys)) return false;
      out.add('"');
      return true;
    };
  }
  // Text columns take strings, numeric columns numbers; anything else is written differently by the reference
  // flatten (exact JSON text), so it is deferred.
  const numeric = spec.type === 'FLOAT' || spec.type === 'INTEGER';
  return (out, _event, image, clean) => {
    const attribute = wireAttributeAt(image, path);
    if (attribute === undefined || attribute.NULL === true) out.add(column.key, 'null');
    else if (numeric && isString(attribute.N)) out.add(column.key, attribute.N);
    else if (!numeric && isString(attribute.S)) pushString(out, column, attribute.S, clean);
    else return false;
    return true;
  };
};

/** How one registry column is written, compiled once. The key is the event's (as `toClaimRow` writes it), whatever the image says. */
const writerOf = (spec: ColumnSpec, index: number): ColumnWriter => {
  const key = `${index === 0 ? '{' : ','}${JSON.stringify(spec.name)}:`;
  const column: ColumnKey = { key, keyQuote: `${key}"` };
  const source = spec.source;
  if (spec.name === 'claimId') {
    return (out, event, _image, clean) => {
      pushString(out, column, event.claimId, clean);
      return true;
    };
  }
  switch (source.kind) {
    case 'event': {
      const field = source.field;
      return (out, event, _image, clean) => {
        pushString(out, column, event[field], clean);
        return true;
      };
    }
    case 'rawImage': {
      const keys = keyRoot();
      return (out, _event, image, clean) => {
        out.add(column.keyQuote);
        if (!writeInnerItem(out, image, clean, keys)) return false;
        out.add('"');
        return true;
      };
    }
    case 'warehouse':
      return (out) => {
        out.add(column.key, 'null');
        return true;
      };
    case 'image':
      return imageWriter(spec, column, source.path, source.encode === 'json');
  }
};

/** Every row column's writer, in the registry's order. */
const WRITERS: readonly ColumnWriter[] = ROW_COLUMNS.map(writerOf);

// The pieces of the row being written, reused: the fast path is synchronous, so rows never interleave.
const parts = new TextParts();

/** The row's JSON text: every column in the registry's order, as JSON.stringify of the reference row object prints it. */
const rowText = (event: FastEvent, image: Plain, clean: boolean): string | undefined => {
  parts.reset();
  for (const write of WRITERS) if (!write(parts, event, image, clean)) return undefined;
  parts.add('}');
  return parts.text();
};

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

/** The record's text, and whether its bytes were all ASCII. */
interface DecodedText {
  readonly text: string;
  readonly ascii: boolean;
}

const decodeBase64 = (data: string): DecodedText | undefined => {
  const length = data.length;
  if (length % 4 !== 0 || data.indexOf('-') !== -1 || data.indexOf('_') !== -1) return undefined;
  const bytes = Buffer.from(data, 'base64');
  // Node's decoder skips characters outside the alphabet and stops at '=': the length tells it met none of those.
  const pad = length === 0 ? 0 : data.charCodeAt(length - 1) !== 61 ? 0 : data.charCodeAt(length - 2) === 61 ? 2 : 1;
  if (bytes.length !== (length / 4) * 3 - pad) return undefined;
  // ASCII reads the same as Latin-1 and as UTF-8; copying it as Latin-1 skips the UTF-8 decoder.
  const ascii = isAscii(bytes);
  return { text: bytes.toString(ascii ? 'latin1' : 'utf8'), ascii };
};

/** The fields of a change record the fast path reads, when its envelope is one it takes. */
interface FastEnvelope {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly claimId: string;
  readonly time: number;
  readonly precision: 'MILLISECOND' | 'MICROSECOND' | undefined;
  readonly newImage: unknown;
  readonly oldImage: unknown;
}

/** The record's envelope when it is the usual DynamoDB→Kinesis one for a claims-table key, else undefined. */
const envelopeOf = (record: unknown): FastEnvelope | undefined => {
  if (!isObject(record)) return undefined;
  const { eventID, eventName, dynamodb } = record;
  if (!isString(eventID) || eventID.length === 0 || (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE')) return undefined;
  if (record.eventSource !== WIRE_EVENT_SOURCE || record.recordFormat !== WIRE_RECORD_FORMAT || !isString(record.awsRegion) || !isString(record.tableName)) return undefined;
  if (record.userIdentity !== undefined && record.userIdentity !== null) return undefined;
  if (!isObject(dynamodb) || typeof dynamodb.SizeBytes !== 'number') return undefined;
  const { ApproximateCreationDateTime: time, ApproximateCreationDateTimePrecision: precision, Keys: keys } = dynamodb;
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time <= 0) return undefined;
  if (precision !== undefined && precision !== 'MILLISECOND' && precision !== 'MICROSECOND') return undefined;
  if (!isObject(keys) || onlyKey(keys) !== 'claim_id') return undefined;
  const key = keys.claim_id;
  if (!isObject(key) || onlyKey(key) !== 'S' || !isString(key.S)) return undefined;
  return { eventID, eventName, claimId: key.S, time, precision, newImage: dynamodb.NewImage, oldImage: dynamodb.OldImage };
};

/**
 * The row JSON of one claim change, or `undefined` when the record is outside the fast path's subset (the caller
 * then runs the reference decoder). Never throws for any input: the image is walked recursively, so an image nested
 * deeper than the stack allows (DynamoDB stops at 32 levels; a forged record need not) is handed back too.
 */
export const fastRowJson = (data: string, sequenceNumber: string, options: FastDecodeOptions): FastRow | undefined => {
  try {
    return fastRow(data, sequenceNumber, options);
  } catch {
    return undefined;
  }
};

const fastRow = (data: string, sequenceNumber: string, options: FastDecodeOptions): FastRow | undefined => {
  if (!SEQUENCE.test(sequenceNumber)) return undefined;
  const decoded = decodeBase64(data);
  if (decoded === undefined) return undefined;
  // Throws on text that is not JSON, and eventMicros on an implausible time: both caught by fastRowJson.
  const envelope = envelopeOf(JSON.parse(decoded.text));
  if (envelope === undefined) return undefined;
  const { eventName, claimId } = envelope;

  // INSERT/MODIFY: the row is the new image; the old one is only checked. REMOVE: the row is the old image.
  const removing = eventName === 'REMOVE';
  const source = removing ? envelope.oldImage : envelope.newImage;
  const other = removing ? envelope.newImage : envelope.oldImage;
  // A REMOVE carrying a new image would be flattened from it by the reference path: left to it.
  if (!isObject(source) || (other !== undefined && (removing || !wireItemValid(other)))) return undefined;
  // No backslash anywhere in the record: no string in it needs escaping (wire-text.ts).
  const clean = decoded.text.indexOf('\\') === -1;
  const micros = eventMicros(envelope.time, envelope.precision, options.nowMs);
  const event: FastEvent = { eventId: envelope.eventID, eventName, claimId, eventCreationUnixTime: micros, sequenceNumber };
  // Every attribute is checked as the row is written (rawImage last), and the claim after: `isWireClaim` reads only
  // attributes the writer has found well formed.
  const json = rowText(event, source, clean);
  if (json === undefined || !isWireClaim(source) || (!removing && (source.claim_id as Plain).S !== claimId)) return undefined;
  // An all-ASCII clean record writes an all-ASCII row (its strings unescaped, the rest digits and punctuation): one
  // byte per character, without scanning the row.
  const bytes = clean && decoded.ascii ? json.length : Buffer.byteLength(json);
  if (removing && bytes > options.maxMessageBytes - 1024) return undefined;
  return { json, bytes };
};
