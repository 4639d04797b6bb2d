import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RejectReason } from './errors';
import { MAX_SQS_MESSAGE_BYTES } from './row-message';

/** The format of a quarantine-queue message. */
export const QUARANTINE_FORMAT = 'claims-cdc.quarantine.v1';

/** Where the rejected input came from, so it can be re-driven to the same place. */
export interface QuarantineOrigin {
  readonly stage: 'transform' | 'load';
  /** Kinesis sequence number or SQS message id. */
  readonly id: string;
  /** Stream or queue ARN. */
  readonly source?: string;
}

export const QuarantineMessageSchema = z.object({
  format: z.literal(QUARANTINE_FORMAT),
  quarantineId: z.string(),
  reason: z.string(),
  detail: z.string(),
  origin: z.object({ stage: z.enum(['transform', 'load']), id: z.string(), source: z.string().optional() }),
  quarantinedAt: z.string(),
  /** The raw payload, exactly as received (Kinesis: the base64 `data`; SQS: the body), maybe split in parts. */
  payload: z.string(),
  part: z.number().int().min(1),
  parts: z.number().int().min(1),
});

export type QuarantineMessage = z.infer<typeof QuarantineMessageSchema>;

// Room for the envelope (reason, detail, ids) next to a payload part.
const PART_CHARS = MAX_SQS_MESSAGE_BYTES - 16_384;

/**
 * The quarantine messages for one rejected input: its reason and its whole raw payload. A payload larger than one
 * SQS message is split into parts sharing a quarantine id, so nothing is ever truncated or dropped.
 */
export const quarantineMessages = (reason: RejectReason | string, detail: string, origin: QuarantineOrigin, payload: string, now = new Date()): QuarantineMessage[] => {
  const quarantineId = randomUUID();
  const chunks: string[] = [];
  // Payloads are base64 or JSON text (ASCII-safe slicing for base64; JSON bodies may hold multi-byte characters).
  const ascii = /^[\x20-\x7e]*$/.test(payload);
  const size = ascii ? PART_CHARS : Math.floor(PART_CHARS / 4);
  for (let i = 0; i < payload.length || chunks.length === 0; i += size) chunks.push(payload.slice(i, i + size));
  return chunks.map((chunk, i) => ({
    format: QUARANTINE_FORMAT,
    quarantineId,
    reason,
    detail,
    origin,
    quarantinedAt: now.toISOString(),
    payload: chunk,
    part: i + 1,
    parts: chunks.length,
  }));
};

/** Joins the parts of one quarantined input back into its raw payload. */
export const joinQuarantineParts = (parts: readonly QuarantineMessage[]): string =>
  [...parts].sort((a, b) => a.part - b.part).map((p) => p.payload).join('');
