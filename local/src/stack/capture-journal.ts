/**
 * The capture's write-ahead journal: what a kill -9 of the stack must not lose between a write reaching DynamoDB and
 * its change record reaching Kinesis.
 *
 * - Before a write is forwarded to the emulator, an *intent* per item it touches: the item's key and its image before.
 * - Once the change is known, a *commit* that closes those intents and carries the change records (in the exact bytes
 *   they will be put with, so with DynamoDB's `eventID`); it is written before the client gets its reply and before
 *   the records go to the outbox.
 * - When Kinesis accepted records, an *acknowledgement* of them.
 *
 * A later start replays it: committed records not acknowledged are put again first, in their order (one that did land
 * before the kill lands twice with the same eventID, which the pipeline tolerates), then every intent still open (the
 * process died between the emulator applying the write and the commit) is settled by reading its item: a change is
 * emitted if the item differs from its image before. Every entry is one JSON line, appended synchronously; the journal
 * is rewritten with only what is still open when it is opened and whenever it has grown large.
 */
import type { WireItem } from './dynamodb-wire';
import { JsonLinesJournal } from './persistence';

/** An item a write may have changed. */
export interface JournalTarget {
  table: string;
  key: WireItem;
  lockKey: string;
}

/** An intent not closed by a commit: its write may or may not have been applied. */
export interface OpenIntent {
  id: number;
  target: JournalTarget;
  oldImage: WireItem | undefined;
}

/** A change record committed for Kinesis. */
export interface JournaledRecord {
  id: number;
  streamName: string;
  partitionKey: string;
  /** The record's JSON, byte for byte what is put on the stream. */
  data: string;
}

type Entry =
  | { o: 'i'; i: [number, string, WireItem, string, WireItem | null][] }
  | { o: 'c'; i: number[]; r: [number, string, string, string][] }
  | { o: 'a'; r: number[] };

/** Grown past this many bytes, the journal is rewritten with only its open intents and unacknowledged records. */
const COMPACT_BYTES = 64 * 1024 * 1024;

/** See the module comment. */
export class CaptureJournal {
  private readonly intents = new Map<number, OpenIntent>();
  private readonly records = new Map<number, JournaledRecord>();
  private readonly journal: JsonLinesJournal;
  private nextId = 1;
  /** What was open when the journal was opened: to replay before the capture serves. */
  readonly recovered: { intents: OpenIntent[]; records: JournaledRecord[] };

  constructor(file: string) {
    for (const entry of JsonLinesJournal.read(file) as Entry[]) this.apply(entry);
    this.recovered = { intents: [...this.intents.values()], records: [...this.records.values()] };
    this.journal = new JsonLinesJournal(file);
    this.journal.rewrite(this.snapshot());
  }

  /** Intents not closed yet (tests and status). */
  get openIntents(): number {
    return this.intents.size;
  }

  /** Records not acknowledged yet. */
  get unacknowledged(): number {
    return this.records.size;
  }

  /** Journals the items a write is about to change, with their images before; returns one intent id per item. */
  begin(items: readonly { target: JournalTarget; oldImage: WireItem | undefined }[]): number[] {
    const entry: Entry = { o: 'i', i: [] };
    const ids = items.map(({ target, oldImage }) => {
      const id = this.nextId++;
      this.intents.set(id, { id, target, oldImage });
      entry.i.push([id, target.table, target.key, target.lockKey, oldImage ?? null]);
      return id;
    });
    this.journal.append([entry]);
    return ids;
  }

  /** Closes intents and journals the records their changes produced (none when nothing changed). */
  commit(intentIds: readonly number[], records: readonly Omit<JournaledRecord, 'id'>[]): JournaledRecord[] {
    const out = records.map((r) => ({ id: this.nextId++, ...r }));
    const entry: Entry = { o: 'c', i: [...intentIds], r: out.map((r) => [r.id, r.streamName, r.partitionKey, r.data]) };
    this.apply(entry);
    this.journal.append([entry]);
    return out;
  }

  /** Records Kinesis accepted. */
  acknowledge(ids: readonly number[]): void {
    if (ids.length === 0) return;
    const entry: Entry = { o: 'a', r: [...ids] };
    this.apply(entry);
    this.journal.append([entry]);
    if (this.journal.size > COMPACT_BYTES) this.journal.rewrite(this.snapshot());
  }

  close(): void {
    this.journal.close();
  }

  private apply(entry: Entry): void {
    if (entry.o === 'i') {
      for (const [id, table, key, lockKey, oldImage] of entry.i) {
        this.intents.set(id, { id, target: { table, key, lockKey }, oldImage: oldImage ?? undefined });
        this.nextId = Math.max(this.nextId, id + 1);
      }
    } else if (entry.o === 'c') {
      for (const id of entry.i) this.intents.delete(id);
      for (const [id, streamName, partitionKey, data] of entry.r) {
        this.records.set(id, { id, streamName, partitionKey, data });
        this.nextId = Math.max(this.nextId, id + 1);
      }
    } else if (entry.o === 'a') {
      for (const id of entry.r) this.records.delete(id);
    }
  }

  /** The open state as entries, in id order (records before intents of the same item, as they were written). */
  private snapshot(): Entry[] {
    const entries: Entry[] = [];
    const records = [...this.records.values()];
    for (let n = 0; n < records.length; n += 100) {
      entries.push({ o: 'c', i: [], r: records.slice(n, n + 100).map((r) => [r.id, r.streamName, r.partitionKey, r.data]) });
    }
    const intents = [...this.intents.values()];
    for (let n = 0; n < intents.length; n += 100) {
      entries.push({ o: 'i', i: intents.slice(n, n + 100).map((i) => [i.id, i.target.table, i.target.key, i.target.lockKey, i.oldImage ?? null]) });
    }
    return entries;
  }
}
