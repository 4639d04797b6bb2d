/**
 * What the warehouse will accept in each column, checked before a row leaves the transform (and again at the load),
 * with the warehouse's own rules: a value that passes here is one both DuckDB and Snowflake cast without error.
 * Problems name the column and the rule, never the value.
 */
import { type ClaimRow, type ColumnSpec, type ColumnType, ROW_COLUMNS, ROW_EVENT_NAMES } from './columns';
import { RecordRejectedError } from './errors';
import { MAX_SEQUENCE_DIGITS, MICROS_DIGITS } from './merge-rules';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?Z$/;

/** True for a real day of the proleptic Gregorian calendar, years 0001–9999 (Snowflake's and DuckDB's common range). */
export const isRealDate = (year: number, month: number, day: number): boolean => {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return day <= days;
};

/** `YYYY-MM-DD` naming a real calendar day. */
export const isCalendarDate = (text: string): boolean => {
  const m = DATE.exec(text);
  return m !== null && isRealDate(Number(m[1]), Number(m[2]), Number(m[3]));
};

/** `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` naming a real instant (no leap seconds: neither warehouse accepts :60). */
export const isCalendarTimestamp = (text: string): boolean => {
  const m = TIMESTAMP.exec(text);
  return m !== null && isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) && Number(m[4]) < 24 && Number(m[5]) < 60 && Number(m[6]) < 60;
};

const isJson = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Per registry type: the problem with a non-null value, or undefined when the warehouse accepts it. */
const RULES: Record<ColumnType, (value: string | number) => string | undefined> = {
  STRING: (v) => (typeof v === 'string' ? undefined : 'expected text'),
  VARCHAR1: (v) => (typeof v !== 'string' ? 'expected text' : [...v].length > 1 ? 'longer than 1 character' : undefined),
  FLOAT: (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'not a finite number'),
  // Exact integers only: beyond 2^53 a JSON number has already lost digits on its way here.
  INTEGER: (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? undefined : 'not an integer within ±2^53'),
  TIMESTAMP_NTZ: (v) => (typeof v === 'string' && isCalendarTimestamp(v) ? undefined : 'not a real calendar date and time (YYYY-MM-DDTHH:MM:SS.ffffffZ, years 0001-9999)'),
  JSON: (v) => (typeof v === 'string' && isJson(v) ? undefined : 'not valid JSON'),
};

/** Rules for the event metadata every row carries, whatever its column type. */
const EVENT_RULES: Record<string, (value: unknown) => string | undefined> = {
  eventId: (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'missing'),
  claimId: (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'missing'),
  eventName: (v) => ((ROW_EVENT_NAMES as readonly unknown[]).includes(v) ? undefined : `not ${ROW_EVENT_NAMES.join(', ')}`),
  eventCreationUnixTime: (v) => (typeof v === 'string' && new RegExp(`^\\d{1,${MICROS_DIGITS}}$`).test(v) ? undefined : `not 1-${MICROS_DIGITS} decimal digits`),
  sequenceNumber: (v) => (typeof v === 'string' && new RegExp(`^\\d{0,${MAX_SEQUENCE_DIGITS}}$`).test(v) ? undefined : `not 0-${MAX_SEQUENCE_DIGITS} decimal digits`),
};

// Lists and maps travel as JSON text in STRING columns (the quickstart's types): they must parse as JSON too.
const typeOf = (column: ColumnSpec): ColumnType => (column.source.kind === 'image' && column.source.encode === 'json' ? 'JSON' : column.type);

const describeColumn = (column: ColumnSpec): string => (column.source.kind === 'image' ? `${column.name} (${column.source.path.join('.')})` : column.name);

/** The first problem of a row, named by column (and attribute path), or undefined when the warehouse accepts it. */
export const rowProblem = (row: Readonly<Record<string, unknown>>): string | undefined => {
  for (const column of ROW_COLUMNS) {
    const value = row[column.name];
    const event = EVENT_RULES[column.name];
    const problem = event ? event(value) : value === null || value === undefined ? undefined : typeof value === 'string' || typeof value === 'number' ? RULES[typeOf(column)](value) : 'not a scalar';
    if (problem !== undefined) return `${describeColumn(column)}: ${problem}`;
  }
  return undefined;
};

/**
 * Checks a row against what the warehouse accepts.
 * @throws RecordRejectedError `invalid-value`, naming the column, never the value.
 */
export const checkRow = (row: ClaimRow): ClaimRow => {
  const problem = rowProblem(row);
  if (problem !== undefined) throw new RecordRejectedError('invalid-value', problem);
  return row;
};
