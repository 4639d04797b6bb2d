/**
 * Warehouse error messages with the row values taken out. Both warehouses quote the offending value when a cast or
 * a key fails (DuckDB: "Could not convert string 'Zebulon4' to INT32", "Duplicate key "a: x""; Snowflake:
 * "Numeric value 'Smith' is not recognized"), Snowflake dumps whole rows after "Row Values:", and DuckDB echoes
 * the statement (its literals included) on a "LINE n:" line with a caret under the error. Every warehouse error
 * goes through {@link scrubWarehouseMessage} before it reaches a log, a CLI, an API reply or a quarantine reason.
 */
import { WarehouseError } from './port';

const MAX_LENGTH = 300;

/**
 * DuckDB errors raised while parsing and binding, before any row is read: the double-quoted names in them
 * ("Referenced column "nope" not found") come from the statement or the catalog, never from a row, and they are
 * what makes the error useful. Everywhere else a double-quoted span may be a value ("Duplicate key "a: x"").
 */
const BEFORE_ANY_ROW = /^(?:Parser|Binder|Catalog) Error:/;
const QUOTED_NAME = /"([A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*)*)"/g;
const CARET_LINE = /^\s*\^\s*$/;
const SQL_ECHO_LINE = /^\s*LINE \d+:/;
const NAME_SLOT = /\u0000(\d+)\u0000/g;

/**
 * Replaces everything from the first quote of each kind to the last quote of that kind. Pairing quotes one by one
 * would leak: DuckDB does not escape a quote inside the value it quotes ('O'Brien'), so the first pair ends mid-value.
 */
const scrubQuoted = (text: string): string => {
  let out = '';
  let rest = text;
  for (;;) {
    const at = rest.search(/['"]/);
    if (at < 0) return out + rest;
    const quote = rest[at] as string;
    const last = rest.lastIndexOf(quote);
    // An unterminated quote (a message cut short) hides everything after it.
    out += `${rest.slice(0, at)}${quote}…${quote}`;
    rest = last > at ? rest.slice(last + 1) : '';
  }
};

/**
 * A warehouse error message with no value in it: quoted literals ('…' and "…") replaced, digit runs of five or more
 * (member ids, phone numbers, zip codes) replaced by '#', Snowflake's "Row Values:" dump and DuckDB's echo of the
 * statement dropped, on one line of at most 300 characters. The error's kind and wording stay
 * ("Conversion Error: Could not convert string '…' to INT32 when casting from source column patientFirstName").
 */
export const scrubWarehouseMessage = (message: string): string => {
  const lines = (message.split(/Row Values:/i)[0] ?? '').split('\n');
  // A caret line points into the line above it, which echoes the statement or the input value.
  let text = lines.filter((line, i) => !CARET_LINE.test(line) && !CARET_LINE.test(lines[i + 1] ?? '') && !SQL_ECHO_LINE.test(line)).join('\n');
  const names: string[] = [];
  if (BEFORE_ANY_ROW.test(text.trimStart())) text = text.replace(QUOTED_NAME, (_quoted, name: string) => `\u0000${names.push(name) - 1}\u0000`);
  text = scrubQuoted(text)
    .replace(NAME_SLOT, (_slot, index: string) => `"${names[Number(index)] ?? '…'}"`)
    .replace(/\d{5,}/g, '#')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MAX_LENGTH ? `${text.slice(0, MAX_LENGTH - 1)}…` : text;
};

/** Any thrown warehouse error as a {@link WarehouseError} with a scrubbed message (and no cause that still holds the original). */
export const scrubbedWarehouseError = (error: unknown): WarehouseError => {
  if (error instanceof WarehouseError) return error;
  return new WarehouseError(scrubWarehouseMessage(messageOf(error)));
};

/** An error's message, read by shape: DuckDB's native errors fail `instanceof Error` across realms (under jest). */
export const messageOf = (error: unknown): string => {
  const message = (error as { message?: unknown } | null | undefined)?.message;
  return typeof message === 'string' ? message : typeof error === 'string' ? error : 'unknown error';
};
