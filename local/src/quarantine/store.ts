/**
 * The local quarantine store: an append-only JSONL file in the state directory (owner-only permissions: payloads are
 * the user's own claim data, PHI included). Every quarantine-queue message is written as a `part` line before the
 * message is deleted from the queue, so nothing is lost between queue and disk; re-drives are `redriven` lines.
 * The current state is the fold of all lines, which makes every write idempotent:
 * - parts are keyed by (quarantineId, part), so a message written twice (crash before its delete) counts once;
 * - entries are keyed by their origin (stage, source, Kinesis sequence number or SQS message id), so the same input
 *   quarantined again by a redelivered batch is one entry with two deliveries, not two entries.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { joinQuarantineParts, QuarantineMessageSchema, type QuarantineMessage, type QuarantineOrigin } from '@claims-cdc/shared';

/** File name of the store inside a state directory. */
export const QUARANTINE_FILE = 'quarantine.jsonl';

/** Path of the quarantine store of a state directory. */
export const quarantineStorePath = (stateDir: string): string => path.join(stateDir, QUARANTINE_FILE);

/** Where a quarantined input came from; `unknown` for a queue message that is not in the quarantine format. */
export type EntryOrigin = QuarantineOrigin | { readonly stage: 'unknown'; readonly id: string; readonly source?: string };

/** Where a re-driven record went. */
export interface RedriveMark {
  readonly at: string;
  /** `stream` (transform origin: back on the Kinesis stream) or `load-queue` (load origin). */
  readonly target: 'stream' | 'load-queue';
  /** Kinesis sequence number or SQS message id of the re-driven copy. */
  readonly ref: string;
}

/** One line of the store. */
export type StoreLine =
  | { readonly type: 'part'; readonly receivedAt: string; readonly message: QuarantineMessage }
  | { readonly type: 'unreadable'; readonly receivedAt: string; readonly messageId: string; readonly body: string }
  | ({ readonly type: 'redriven'; readonly id: string; readonly record?: string } & RedriveMark);

/** A quarantined input as `list` shows it: no payload. */
export interface QuarantineEntry {
  /** Stable short id, derived from the origin (the same input quarantined twice keeps its id). */
  readonly id: string;
  readonly reason: string;
  /** What was wrong (field paths and expectations, never values). */
  readonly detail: string;
  readonly origin: EntryOrigin;
  /** When it was first quarantined. */
  readonly quarantinedAt: string;
  /** How many times it was quarantined (redelivered batches quarantine the same input again). */
  readonly deliveries: number;
  /** False while some parts of a split payload have not arrived yet. */
  readonly complete: boolean;
  readonly redriven?: RedriveMark;
}

/** An entry with its raw payload (Kinesis origin: the base64 `data`; load origin: the SQS body). */
export interface QuarantineEntryWithPayload extends QuarantineEntry {
  readonly payload: string | undefined;
}

/** Raised when an id matches no entry or more than one. */
export class QuarantineLookupError extends Error {
  override readonly name = 'QuarantineLookupError';
}

interface Delivery {
  parts: Map<number, QuarantineMessage>;
  total: number;
}

interface EntryState {
  id: string;
  reason: string;
  detail: string;
  origin: EntryOrigin;
  quarantinedAt: string;
  deliveries: Map<string, Delivery>;
  /** Unreadable queue messages keep their body here (they have no parts). */
  body?: string;
  redriven?: RedriveMark;
  /** The fixed record of the last re-drive (absent for re-drives recorded before it was kept). */
  redrivenRecord?: string;
}

/** The id of the entry for an origin. */
export const entryIdFor = (origin: QuarantineOrigin): string =>
  `q${createHash('sha256').update(`${origin.stage}\n${origin.source ?? ''}\n${origin.id}`).digest('hex').slice(0, 11)}`;

const unreadableId = (messageId: string): string => `u${createHash('sha256').update(messageId).digest('hex').slice(0, 11)}`;

/** See the module comment. */
export class QuarantineStore {
  constructor(readonly file: string) {}

  /** Appends lines in one write (one `write` call: a crash leaves at most a torn last line, which reading skips). */
  append(lines: readonly StoreLine[]): void {
    if (lines.length === 0) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    appendFileSync(this.file, lines.map((line) => `${JSON.stringify(line)}\n`).join(''), { mode: 0o600 });
  }

  /** Every entry, oldest first, without payloads. */
  list(): QuarantineEntry[] {
    return [...this.#fold().values()].map((state) => summary(state)).sort((a, b) => a.quarantinedAt.localeCompare(b.quarantinedAt) || a.id.localeCompare(b.id));
  }

  /** Every entry with its payload (one read of the file). */
  entriesWithPayloads(): QuarantineEntryWithPayload[] {
    return [...this.#fold().values()].map((state) => ({ ...summary(state), payload: payloadOf(state) }));
  }

  /** One entry with its payload; `id` may be a unique prefix. */
  get(id: string): QuarantineEntryWithPayload {
    const state = this.#find(id);
    return { ...summary(state), payload: payloadOf(state) };
  }

  /**
   * Records that an entry was re-driven, with the fixed record that was sent (verify compares the destination with
   * it; like the payloads, it stays in this owner-only file).
   */
  markRedriven(id: string, mark: RedriveMark, record?: string): void {
    this.append([{ type: 'redriven', id, ...mark, ...(record === undefined ? {} : { record }) }]);
  }

  /** The entries that were re-driven with their last fixed record, oldest re-drive first. */
  redrivenRecords(): { entry: QuarantineEntry; record: string }[] {
    return [...this.#fold().values()]
      .filter((state): state is EntryState & { redrivenRecord: string; redriven: RedriveMark } => state.redrivenRecord !== undefined && state.redriven !== undefined)
      .sort((a, b) => a.redriven.at.localeCompare(b.redriven.at))
      .map((state) => ({ entry: summary(state), record: state.redrivenRecord }));
  }

  #find(id: string): EntryState {
    const states = this.#fold();
    const exact = states.get(id);
    if (exact) return exact;
    const matches = [...states.values()].filter((s) => s.id.startsWith(id));
    if (matches.length === 1) return matches[0] as EntryState;
    if (matches.length === 0) throw new QuarantineLookupError(`no quarantined record with id '${id}'`);
    throw new QuarantineLookupError(`id '${id}' matches ${matches.length} records; give more characters`);
  }

  #fold(): Map<string, EntryState> {
    const states = new Map<string, EntryState>();
    if (!existsSync(this.file)) return states;
    for (const text of readFileSync(this.file, 'utf8').split('\n')) {
      if (text.trim() === '') continue;
      let line: StoreLine;
      try {
        line = JSON.parse(text) as StoreLine;
      } catch {
        continue; // A torn last line from a crash mid-write; its queue message was not deleted and comes again.
      }
      if (line.type === 'part') {
        const parsed = QuarantineMessageSchema.safeParse(line.message);
        if (!parsed.success) continue;
        const message = parsed.data;
        const id = entryIdFor(message.origin);
        let state = states.get(id);
        if (!state) {
          state = { id, reason: message.reason, detail: message.detail, origin: message.origin, quarantinedAt: message.quarantinedAt, deliveries: new Map() };
          states.set(id, state);
        }
        if (message.quarantinedAt < state.quarantinedAt) state.quarantinedAt = message.quarantinedAt;
        let delivery = state.deliveries.get(message.quarantineId);
        if (!delivery) state.deliveries.set(message.quarantineId, (delivery = { parts: new Map(), total: message.parts }));
        delivery.parts.set(message.part, message);
      } else if (line.type === 'unreadable') {
        const id = unreadableId(line.messageId);
        if (!states.has(id)) {
          states.set(id, {
            id,
            reason: 'unreadable-quarantine-message',
            detail: 'the quarantine queue held a message that is not in the quarantine format; its body is kept as the payload',
            origin: { stage: 'unknown', id: line.messageId },
            quarantinedAt: line.receivedAt,
            deliveries: new Map(),
            body: line.body,
          });
        }
      } else if (line.type === 'redriven') {
        const state = states.get(line.id);
        if (state) {
          state.redriven = { at: line.at, target: line.target, ref: line.ref };
          if (line.record !== undefined) state.redrivenRecord = line.record;
        }
      }
    }
    return states;
  }
}

const completeDelivery = (state: EntryState): Delivery | undefined => [...state.deliveries.values()].find((d) => d.parts.size >= d.total);

function summary(state: EntryState): QuarantineEntry {
  return {
    id: state.id,
    reason: state.reason,
    detail: state.detail,
    origin: state.origin,
    quarantinedAt: state.quarantinedAt,
    deliveries: Math.max(1, state.deliveries.size),
    complete: state.body !== undefined || completeDelivery(state) !== undefined,
    ...(state.redriven ? { redriven: state.redriven } : {}),
  };
}

function payloadOf(state: EntryState): string | undefined {
  if (state.body !== undefined) return state.body;
  const delivery = completeDelivery(state);
  return delivery ? joinQuarantineParts([...delivery.parts.values()]) : undefined;
}
