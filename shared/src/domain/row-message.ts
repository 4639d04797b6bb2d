import { rowProblem } from './cell-rules';
import { type ClaimRow, ROW_COLUMNS, ROW_EVENT_NAMES } from './columns';
import { RecordRejectedError } from './errors';

/**
 * The format of a load-queue message: several rows packed into one SQS message so the queue is not the bottleneck.
 * Versioned so a reader can refuse what it does not understand.
 */
export const ROW_MESSAGE_FORMAT = 'claims-cdc.rows.v1';

/** SQS's classic message size limit. Kept at 256 KiB so the same code works on every SQS (and emulator). */
export const MAX_SQS_MESSAGE_BYTES = 262_144;

/** Re-exported: the event names a load row may carry are defined with the column registry. */
export { ROW_EVENT_NAMES } from './columns';

const ENVELOPE_PREFIX = `{"format":"${ROW_MESSAGE_FORMAT}","rows":[`;
const ENVELOPE_BYTES = Buffer.byteLength(`${ENVELOPE_PREFIX}]}`);

/**
 * The size rows are packed up to (a row larger than this still travels alone, up to {@link MAX_SQS_MESSAGE_BYTES}).
 * Below V8's large-object threshold (128 KiB): a larger string is allocated in its own pages, and joining a 250 KB
 * message body measured about 60 times the cost of joining two 120 KB ones (14 µs per row instead of 0.2 on the
 * bench machine). SQS bills by 64 KiB chunk, so smaller messages cost no more.
 */
export const PACK_TARGET_BYTES = 120_000;

/** One row already serialized: its JSON text and that text's UTF-8 size. */
export interface RowJson {
  readonly json: string;
  readonly bytes: number;
}

/** A row's JSON text and size: the one place a row is stringified on its way to the load queue. */
export const rowJson = (row: ClaimRow): RowJson => {
  const json = JSON.stringify(row);
  return { json, bytes: Buffer.byteLength(json) };
};

/** True when a row of `bytes` fits in a load-queue message of `maxBytes` on its own. */
export const rowFits = (bytes: number, maxBytes = MAX_SQS_MESSAGE_BYTES): boolean => ENVELOPE_BYTES + bytes <= maxBytes;

/** One packed message and the positions (in the input) of the rows it carries. */
export interface PackedMessage {
  readonly body: string;
  readonly rowIndexes: readonly number[];
}

/** A row that cannot fit in one message on its own. */
export interface OversizedRow {
  readonly rowIndex: number;
  readonly bytes: number;
}

/**
 * Packs serialized rows, in order, into as few messages of up to `targetBytes` as fit (a larger row goes alone, up to
 * `maxBytes`); the rows' text is joined as it is, never parsed or stringified again. Rows too large to travel alone
 * are returned separately (the caller quarantines them).
 */
export const packRowJson = (
  rows: readonly RowJson[],
  maxBytes = MAX_SQS_MESSAGE_BYTES,
  targetBytes = Math.min(maxBytes, PACK_TARGET_BYTES),
): { messages: PackedMessage[]; oversized: OversizedRow[] } => {
  const messages: PackedMessage[] = [];
  const oversized: OversizedRow[] = [];
  let parts: string[] = [];
  let indexes: number[] = [];
  let bytes = ENVELOPE_BYTES;
  const flush = (): void => {
    if (parts.length === 0) return;
    messages.push({ body: `${ENVELOPE_PREFIX}${parts.join(',')}]}`, rowIndexes: indexes });
    parts = [];
    indexes = [];
    bytes = ENVELOPE_BYTES;
  };
  rows.forEach(({ json, bytes: size }, rowIndex) => {
    if (!rowFits(size, maxBytes)) {
      oversized.push({ rowIndex, bytes: size });
      return;
    }
    if (bytes + (parts.length > 0 ? 1 : 0) + size > targetBytes) flush();
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(json);
    indexes.push(rowIndex);
  });
  flush();
  return { messages, oversized };
};

/** {@link packRowJson} for row objects (each stringified once, here). */
export const packRows = (rows: readonly ClaimRow[], maxBytes = MAX_SQS_MESSAGE_BYTES): { messages: PackedMessage[]; oversized: OversizedRow[] } =>
  packRowJson(rows.map(rowJson), maxBytes);

/** A row of a load-queue message that cannot be staged, with its reason (column and rule, never a value). */
export interface RowReject {
  readonly index: number;
  readonly row: unknown;
  readonly detail: string;
}

const COLUMN_NAMES: ReadonlySet<string> = new Set(ROW_COLUMNS.map((c) => c.name));

/**
 * The shape problem of one row as read from a queue message: it must be an object with exactly the row columns
 * (none missing, none unknown) and an eventName a load row may have. The cell rules then check every value.
 */
const shapeProblem = (row: unknown): string | undefined => {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) return 'not an object';
  let count = 0;
  for (const key in row) {
    if (!Object.hasOwn(row, key)) continue;
    if (!COLUMN_NAMES.has(key)) return `${key}: not a row column`;
    count += 1;
  }
  if (count !== COLUMN_NAMES.size) return `missing ${ROW_COLUMNS.filter((c) => !Object.hasOwn(row, c.name)).map((c) => c.name).slice(0, 3).join(', ')}`;
  const eventName = (row as { eventName?: unknown }).eventName;
  return (ROW_EVENT_NAMES as readonly unknown[]).includes(eventName) ? undefined : `eventName: not ${ROW_EVENT_NAMES.join(', ')}`;
};

/**
 * Reads a load-queue message row by row, so one bad row does not take its message's other rows with it. The queue is
 * a trust boundary, so every row is checked, by hand rather than with a per-row schema: its exact columns, then the
 * warehouse's own cell rules (`cell-rules.ts`).
 *
 * @throws RecordRejectedError `bad-row-message` when the envelope itself is unreadable (not JSON, another format,
 *   no rows); the detail names the problem, never a value.
 */
export const readRowMessage = (body: string): { rows: ClaimRow[]; rejects: RowReject[] } => {
  let envelope: unknown;
  try {
    envelope = JSON.parse(body);
  } catch {
    throw new RecordRejectedError('bad-row-message', 'not a row message: body is not valid JSON');
  }
  const { format, rows: items } = (envelope ?? {}) as { format?: unknown; rows?: unknown };
  if (format !== ROW_MESSAGE_FORMAT) throw new RecordRejectedError('bad-row-message', `not a row message: format: expected "${ROW_MESSAGE_FORMAT}"`);
  if (!Array.isArray(items) || items.length === 0) throw new RecordRejectedError('bad-row-message', 'not a row message: rows: expected a non-empty array');
  const rows: ClaimRow[] = [];
  const rejects: RowReject[] = [];
  items.forEach((row: unknown, index) => {
    const problem = shapeProblem(row) ?? rowProblem(row as Record<string, unknown>);
    if (problem === undefined) rows.push(row as ClaimRow);
    else rejects.push({ index, row, detail: problem });
  });
  return { rows, rejects };
};

/**
 * Parses a load-queue message body, every row checked.
 * @throws RecordRejectedError `bad-row-message` (unreadable envelope) or `invalid-value` (the first bad row).
 */
export const parseRowMessage = (body: string): ClaimRow[] => {
  const { rows, rejects } = readRowMessage(body);
  const [bad] = rejects;
  if (bad !== undefined) throw new RecordRejectedError('invalid-value', `rows.${bad.index}: ${bad.detail}`);
  return rows;
};

/** The body of a load-queue message carrying these rows (what a quarantined row is kept as, ready to re-drive). */
export const rowMessageBody = (rows: readonly unknown[]): string => JSON.stringify({ format: ROW_MESSAGE_FORMAT, rows });
