/**
 * What the embedded stack keeps in its state directory so that a run resumes where the last one stopped, even after
 * `kill -9`: the emulators' data (dynalite and kinesalite on LevelDB), the SQS emulator's journal, the capture's
 * journal of changes not yet on the stream, and the transform's shard checkpoints. Every file is owner-only (it holds
 * PHI) and every directory 0700.
 */
import { chmodSync, closeSync, fchmodSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Names of the pipeline's persisted state, relative to the state directory. */
export const PERSISTED = {
  dynamodb: 'dynamodb',
  kinesis: 'kinesis',
  sqsJournal: 'sqs.journal',
  captureJournal: 'capture.journal',
  checkpoints: 'kinesis-checkpoints.json',
} as const;

/** Everything `--fresh` removes: the persisted pipeline state, and the warehouse and quarantine that mirror it. */
export const PIPELINE_STATE = [
  ...Object.values(PERSISTED),
  'warehouse.duckdb',
  'warehouse.duckdb.wal',
  'quarantine.jsonl',
] as const;

/** Removes the pipeline's state from a state directory (the handler log and the lock stay). */
export function clearPipelineState(stateDir: string): void {
  for (const name of PIPELINE_STATE) {
    const file = path.join(stateDir, name);
    rmSync(file, { recursive: true, force: true });
    rmSync(`${file}.tmp`, { force: true });
  }
}

/** True when the state directory holds emulator data of an earlier run (so the warehouse there mirrors it). */
export function hasPersistedPipeline(stateDir: string): boolean {
  return [PERSISTED.dynamodb, PERSISTED.kinesis].some((name) => {
    try {
      return lstatSync(path.join(stateDir, name)).isDirectory();
    } catch {
      return false;
    }
  });
}

/**
 * Creates `dir` 0700 if missing and takes group and other access away from everything below it: LevelDB creates its
 * files with the process's umask (the CLI runs with 077; a library caller may not), so a store of an earlier run, or
 * one written under a looser umask, is tightened when the stack starts and stops.
 */
export function privateTree(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  tighten(dir);
}

function tighten(file: string): void {
  let stat;
  try {
    stat = lstatSync(file);
  } catch {
    return; // removed meanwhile (LevelDB deletes old tables and logs as it compacts)
  }
  if (stat.isSymbolicLink() || stat.uid !== process.getuid?.()) return;
  const wanted = stat.isDirectory() ? 0o700 : 0o600;
  if ((stat.mode & 0o777) !== wanted) {
    try {
      chmodSync(file, wanted);
    } catch {
      // gone meanwhile
    }
  }
  if (stat.isDirectory()) for (const name of safeReaddir(file)) tighten(path.join(file, name));
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Replaces `file` with `text` atomically (a private temporary file renamed over it): a reader, or the next run after a
 * crash at any moment, sees the old content or the new, never a torn one.
 */
export function writeFileAtomic(file: string, text: string): void {
  const temp = `${file}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    // The mode of openSync applies only to a file it creates: a .tmp left by a killed process keeps its own.
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, file);
}

/**
 * An append-only journal of JSON lines, written synchronously: once `append` returns, the line survives the process
 * being killed (it is in the kernel's page cache). A torn last line (the process died inside a write) is ignored when
 * the journal is read. `rewrite` replaces the whole journal atomically (compaction).
 */
export class JsonLinesJournal {
  private fd: number;
  private bytes = 0;
  /** Once closed, nothing more is written: the descriptor's number may already belong to another file. */
  private closed = false;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a', 0o600);
    chmodSync(file, 0o600);
    this.bytes = lstatSync(file).size;
  }

  /** Parsed lines of a journal file (none when it does not exist); a line that does not parse ends the read. */
  static read(file: string): unknown[] {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const out: unknown[] = [];
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line));
      } catch {
        break; // torn write at the end of a killed run
      }
    }
    return out;
  }

  /** Bytes written since the journal was last rewritten (or opened). */
  get size(): number {
    return this.bytes;
  }

  append(entries: readonly unknown[]): void {
    if (this.closed) throw new Error(`the journal ${path.basename(this.file)} is closed`);
    if (entries.length === 0) return;
    const text = `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`;
    this.bytes += writeSync(this.fd, text);
  }

  /** Atomically replaces the journal with `entries` and keeps appending to the new file. */
  rewrite(entries: readonly unknown[]): void {
    if (this.closed) throw new Error(`the journal ${path.basename(this.file)} is closed`);
    const temp = `${this.file}.tmp`;
    const fd = openSync(temp, 'w', 0o600);
    let written = 0;
    try {
      for (let i = 0; i < entries.length; i += 1_000) {
        const chunk = entries.slice(i, i + 1_000);
        written += writeSync(fd, `${chunk.map((e) => JSON.stringify(e)).join('\n')}\n`);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a', 0o600);
    this.bytes = written;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** The transform's last processed sequence number per shard, kept in one small JSON file. */
export interface CheckpointStore {
  get(shardId: string): string | undefined;
  /**
   * Records that every record of the shard up to `sequenceNumber` is done: durable when it returns, or within the
   * store's coalescing window (see {@link fileCheckpointStore}).
   */
  set(shardId: string, sequenceNumber: string): void;
  /** Writes now what `set` recorded and is not written yet (when the poller stops). */
  flush(): void;
  /** Forgets what is not written yet and writes nothing more: a killed process's batches are delivered again. */
  discard(): void;
}

/** Options of {@link fileCheckpointStore}. */
export interface CheckpointStoreOptions {
  /**
   * Milliseconds within which checkpoints are written together (0: every `set` writes before it returns). Lambda's
   * event source mapping checkpoints asynchronously too; a kill inside the window only means the batches of that
   * window are delivered again (at-least-once; the load is idempotent by event id). An atomic rewrite on every batch
   * of every shard was 6 % of the stack's main thread in a drain.
   */
  readonly coalesceMs?: number;
}

/** A checkpoint file for one stream (rewritten atomically; a handful of shards, so it is small). */
export function fileCheckpointStore(file: string, streamName: string, options: CheckpointStoreOptions = {}): CheckpointStore {
  let all: Record<string, Record<string, string>> = {};
  try {
    all = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string>>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the shard checkpoints in ${file}: ${(error as Error).message}`);
  }
  const written: Record<string, string> = { ...(all[streamName] ?? {}) };
  const shards: Record<string, string> = { ...written };
  let timer: NodeJS.Timeout | undefined;
  let discarded = false;
  // A write that failed in the timer: thrown by the next `set`, as a synchronous write's error would be (the poller
  // reports it and goes on; the next run re-processes from the last checkpoint written). Never thrown from the timer,
  // where it would take the stack's process down.
  let failed: unknown;
  const write = () => {
    clearTimeout(timer);
    timer = undefined;
    if (discarded || Object.entries(shards).every(([id, seq]) => written[id] === seq)) return;
    all[streamName] = { ...shards };
    writeFileAtomic(file, `${JSON.stringify(all)}\n`);
    Object.assign(written, shards);
  };
  return {
    get: (shardId) => shards[shardId],
    set(shardId, sequenceNumber) {
      if (failed !== undefined) {
        const error = failed;
        failed = undefined;
        throw error;
      }
      if (shards[shardId] === sequenceNumber) return;
      shards[shardId] = sequenceNumber;
      if (!options.coalesceMs) write();
      else
        timer ??= setTimeout(() => {
          try {
            write();
          } catch (error) {
            failed = error;
          }
        }, options.coalesceMs).unref();
    },
    flush: write,
    discard() {
      clearTimeout(timer);
      timer = undefined;
      discarded = true;
    },
  };
}
