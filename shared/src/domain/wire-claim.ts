/**
 * The claim schema (`claim.ts`, `ClaimSchema`) by hand, read straight from a wire image (DynamoDB JSON) for the fast
 * path, so no plain object is built for the check. Kept in step with the schema by `fast-decode.test.ts`: a rule
 * missing here makes the fast path accept what the reference decoder rejects, and that test fails.
 *
 * Only for images `writeInnerItem` (`wire-text.ts`) has written: every attribute is then a well-formed single-type value,
 * every N a canonical number and there is no binary, so on the plain side an S is exactly a string, an N exactly a
 * number, an M exactly an object and an L (or SS) exactly an array.
 */
import { isRealDate } from './cell-rules';
import { CLAIM_ID_PATTERN, CLAIM_STATUSES, CPT_PATTERN, CREATED_TIMESTAMP_PATTERN, GENDERS, ICD10_PATTERN, PAYMENT_STATUSES } from './claim';
import { isObject, type Plain } from './wire-text';

/** The text of an S attribute, or undefined for anything else (the plain value is then not a string). */
const textOf = (attribute: unknown): string | undefined => {
  if (!isObject(attribute)) return undefined;
  const s = attribute.S;
  return typeof s === 'string' ? s : undefined;
};

/** The value of an N attribute, or undefined for anything else (the plain value is then not a number). */
const numberOf = (attribute: unknown): number | undefined => {
  if (!isObject(attribute)) return undefined;
  const n = attribute.N;
  return typeof n === 'string' ? Number(n) : undefined;
};

/** The inner map of an M attribute, or undefined for anything else. */
const mapOf = (attribute: unknown): Plain | undefined => {
  if (!isObject(attribute)) return undefined;
  const m = attribute.M;
  return isObject(m) ? m : undefined;
};

/** The number `count` ASCII digits of `text` write from `start` (all within the text), or -1 when one is not a digit. */
const digitsAt = (text: string, start: number, count: number): number => {
  let n = 0;
  for (let i = start; i < start + count; i += 1) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
};

// The three checks below are `cell-rules.ts`'s and `claim.ts`'s, read character by character instead of through a
// regular expression's match array and a string built for the Luhn sum: together 0.7 µs of the fast path per record
// (dates 110 ns each, the timestamp 210, the NPI 160), about a fifth of that this way. `fast-decode.test.ts` checks
// each against its original on generated texts.

/** `isCalendarDate`: `YYYY-MM-DD` naming a real calendar day. */
export const isDateText = (s: string): boolean =>
  s.length === 10 && s.charCodeAt(4) === 45 && s.charCodeAt(7) === 45 && isRealDate(digitsAt(s, 0, 4), digitsAt(s, 5, 2), digitsAt(s, 8, 2));

/** `CREATED_TIMESTAMP_PATTERN` and `isCalendarTimestamp`: ISO-8601 UTC with microseconds, naming a real instant. */
export const isCreatedTimestamp = (s: string): boolean =>
  CREATED_TIMESTAMP_PATTERN.test(s) && isRealDate(digitsAt(s, 0, 4), digitsAt(s, 5, 2), digitsAt(s, 8, 2)) && digitsAt(s, 11, 2) < 24 && digitsAt(s, 14, 2) < 60 && digitsAt(s, 17, 2) < 60;

// The Luhn digits of the NPI prefix 80840, in order.
const NPI_PREFIX = [8, 0, 8, 4, 0];

/** `isValidNpi`: 10 digits whose last is the Luhn check digit of the other nine behind the 80840 prefix. */
export const isNpi = (npi: string): boolean => {
  if (npi.length !== 10 || digitsAt(npi, 0, 10) < 0) return false;
  // Over the 14 digits 80840 + npi[0..8], counted from the right with the check digit's place as position 0: the
  // digits at positions 1, 3, 5… are doubled.
  let sum = 0;
  for (let k = 0; k < 14; k += 1) {
    let d = k < 5 ? (NPI_PREFIX[k] as number) : npi.charCodeAt(k - 5) - 48;
    if ((13 - k) % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10 === npi.charCodeAt(9) - 48;
};

const isString = (attribute: unknown): boolean => textOf(attribute) !== undefined;
const matches = (attribute: unknown, pattern: RegExp): boolean => {
  const s = textOf(attribute);
  return s !== undefined && pattern.test(s);
};
const isDate = (attribute: unknown): boolean => {
  const s = textOf(attribute);
  return s !== undefined && isDateText(s);
};
const isZip = (attribute: unknown): boolean => {
  const n = numberOf(attribute);
  return n !== undefined && Number.isInteger(n) && n >= 0 && n <= 99_999;
};
const oneOf = (attribute: unknown, values: ReadonlySet<string>): boolean => {
  const s = textOf(attribute);
  return s !== undefined && values.has(s);
};

const CLAIM_STATUS_SET: ReadonlySet<string> = new Set(CLAIM_STATUSES);
const PAYMENT_STATUS_SET: ReadonlySet<string> = new Set(PAYMENT_STATUSES);
const GENDER_SET: ReadonlySet<string> = new Set(GENDERS);

/** `diagnosis_codes`: an array (L of S, or SS) of ICD-10 codes. */
const areDiagnosisCodes = (attribute: unknown): boolean => {
  if (!isObject(attribute)) return false;
  const { L: list, SS: set } = attribute;
  if (Array.isArray(list)) return list.every((item) => matches(item, ICD10_PATTERN));
  return Array.isArray(set) && set.every((s) => typeof s === 'string' && ICD10_PATTERN.test(s));
};

/** `procedure_details`: an array (L) of maps with a CPT code, a description and a numeric charge. */
const areProcedures = (attribute: unknown): boolean => {
  if (!isObject(attribute) || !Array.isArray(attribute.L)) return false;
  for (const item of attribute.L) {
    const p = mapOf(item);
    if (p === undefined || !matches(p.procedure_code, CPT_PATTERN) || !isString(p.description) || numberOf(p.charge) === undefined) return false;
  }
  return true;
};

const isPatient = (p: Plain): boolean =>
  isString(p.first_name) && isString(p.last_name) && isString(p.email) && isString(p.phone) && isDate(p.date_of_birth) && oneOf(p.gender, GENDER_SET) &&
  isString(p.street) && isString(p.city) && isString(p.state) && isZip(p.zip);

const isProvider = (p: Plain): boolean => {
  const npi = textOf(p.npi);
  return npi !== undefined && isNpi(npi) && isString(p.name) && isString(p.street) && isString(p.city) && isString(p.state) && isZip(p.zip);
};

const isPayer = (p: Plain): boolean => isString(p.name) && isString(p.payer_id) && isString(p.contact_number);

/** True only when zod's `ClaimSchema` would accept the plain form of this wire image (see the module comment). */
export const isWireClaim = (item: Plain): boolean => {
  if (!matches(item.claim_id, CLAIM_ID_PATTERN) || !isString(item.member_id) || !isString(item.insurance_plan)) return false;
  if (!areDiagnosisCodes(item.diagnosis_codes) || !areProcedures(item.procedure_details)) return false;
  if (!isDate(item.date_of_service) || !isDate(item.bill_submit_date) || numberOf(item.total_charge) === undefined) return false;
  if (!oneOf(item.claim_status, CLAIM_STATUS_SET) || !oneOf(item.payment_status, PAYMENT_STATUS_SET)) return false;
  const created = textOf(item.created_timestamp);
  if (created === undefined || !isCreatedTimestamp(created)) return false;
  const patient = mapOf(item.patient);
  const provider = mapOf(item.provider);
  const payer = mapOf(item.payer);
  return patient !== undefined && provider !== undefined && payer !== undefined && isPatient(patient) && isProvider(provider) && isPayer(payer);
};
