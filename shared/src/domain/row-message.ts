import { z } from 'zod';
import { rowProblem } from './cell-rules';
import { type ClaimRow, type ColumnType, ROW_COLUMNS } from './columns';

/**
 * The format of a load-queue message: several rows packed into one SQS message so the queue is not the bottleneck.
 * Versioned so a reader can refuse what it does not understand.
 */
export const ROW_MESSAGE_FORMAT = 'claims-cdc.rows.v1';

/** SQS's classic message size limit. Kept at 256 KiB so the same code works on every SQS (and emulator). */
export const MAX_SQS_MESSAGE_BYTES = 262_144;

const CELLS: Record<ColumnType, z.ZodType> = {
  STRING: z.string().nullable(),
  VARCHAR1: z.string().nullable(),
  FLOAT: z.number().nullable(),
  INTEGER: z.number().int().nullable(),
  TIMESTAMP_NTZ: z.string().nullable(),
  JSON: z.string().nullable(),
};
const RowSchema = z.strictObject(Object.fromEntries(ROW_COLUMNS.map((c) => [c.name, CELLS[c.type]]))).extend({
  eventId: z.string().min(1),
  claimId: z.string().min(1),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  eventCreationUnixTime: z.string().regex(/^\d+$/),
  sequenceNumber: z.string().regex(/^\d*$/),
});

/** A load-queue message body. */
export const RowMessageSchema = z.object({ format: z.literal(ROW_MESSAGE_FORMAT), rows: z.array(RowSchema).min(1) });

const ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ format: ROW_MESSAGE_FORMAT, rows: [] }));

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
 * Packs rows, in order, into as few messages as fit under `maxBytes`.
 * Rows too large to travel alone are returned separately (the caller quarantines them).
 */
export const packRows = (rows: readonly ClaimRow[], maxBytes = MAX_SQS_MESSAGE_BYTES): { messages: PackedMessage[]; oversized: OversizedRow[] } => {
  const messages: PackedMessage[] = [];
  const oversized: OversizedRow[] = [];
  let parts: string[] = [];
  let indexes: number[] = [];
  let bytes = ENVELOPE_BYTES;
  const flush = (): void => {
    if (parts.length === 0) return;
    messages.push({ body: `{"format":"${ROW_MESSAGE_FORMAT}","rows":[${parts.join(',')}]}`, rowIndexes: indexes });
    parts = [];
    indexes = [];
    bytes = ENVELOPE_BYTES;
  };
  rows.forEach((row, rowIndex) => {
    const json = JSON.stringify(row);
    const size = Buffer.byteLength(json);
    if (ENVELOPE_BYTES + size > maxBytes) {
      oversized.push({ rowIndex, bytes: size });
      return;
    }
    const separator = parts.length > 0 ? 1 : 0;
    if (bytes + separator + size > maxBytes) flush();
    bytes += (parts.length > 0 ? 1 : 0) + size;
    parts.push(json);
    indexes.push(rowIndex);
  });
  flush();
  return { messages, oversized };
};

/** Parses a load-queue message body, every row checked; throws a ZodError/SyntaxError/Error that names the problem. */
export const parseRowMessage = (body: string): ClaimRow[] => {
  const rows = RowMessageSchema.parse(JSON.parse(body)).rows as ClaimRow[];
  rows.forEach((row, i) => {
    const problem = rowProblem(row);
    if (problem !== undefined) throw new Error(`rows.${i}: ${problem}`);
  });
  return rows;
};

const EnvelopeSchema = z.object({ format: z.literal(ROW_MESSAGE_FORMAT), rows: z.array(z.unknown()).min(1) });

/** A row of a load-queue message that cannot be staged, with its reason (column and rule, never a value). */
export interface RowReject {
  readonly index: number;
  readonly row: unknown;
  readonly detail: string;
}

/**
 * Reads a load-queue message row by row, so one bad row does not take its message's other rows with it.
 * Throws (ZodError/SyntaxError) only when the envelope itself is unreadable.
 */
export const readRowMessage = (body: string): { rows: ClaimRow[]; rejects: RowReject[] } => {
  const envelope = EnvelopeSchema.parse(JSON.parse(body));
  const rows: ClaimRow[] = [];
  const rejects: RowReject[] = [];
  envelope.rows.forEach((row, index) => {
    const parsed = RowSchema.safeParse(row);
    const problem = parsed.success ? rowProblem(parsed.data) : parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    if (problem === undefined) rows.push(parsed.data as ClaimRow);
    else rejects.push({ index, row, detail: problem });
  });
  return { rows, rejects };
};

/** The body of a load-queue message carrying these rows (what a quarantined row is kept as, ready to re-drive). */
export const rowMessageBody = (rows: readonly unknown[]): string => JSON.stringify({ format: ROW_MESSAGE_FORMAT, rows });
