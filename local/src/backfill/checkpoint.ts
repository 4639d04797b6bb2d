/**
 * The backfill's progress, one checkpoint per Scan segment, in one small JSON file in the state directory (owner-only:
 * a key is a claim id, and claim ids are all it holds). Rewritten atomically after every page, so a backfill killed at
 * any line resumes from the last page it recorded.
 *
 * Before a page is read its request time is recorded; after its rows are on the load queue the next start key is. A
 * page read again after a crash therefore keeps its request time, so its rows keep their event ids and version, and
 * the load keeps one copy of each.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { WireItem } from '@claims-cdc/shared';
import { writeFileAtomic } from '../stack/persistence';

/** File name of the checkpoints in a state directory. */
export const BACKFILL_CHECKPOINT_FILE = 'backfill-checkpoints.json';

/** Where one segment is. */
export interface SegmentCheckpoint {
  /** The key to start the next page after (absent: from the segment's start). */
  startKey?: WireItem;
  /** Request time of the page starting at `startKey` when it was requested but not yet fully sent. */
  pageRequestedAtMs?: number;
  done: boolean;
  read: number;
  sent: number;
  rejected: number;
}

/** Every segment of one backfill of one table. */
export interface BackfillCheckpoint {
  format: 'claims-cdc.backfill.v1';
  table: string;
  /** The table's creation time: a table deleted and created again (`up --fresh`) is a new table to backfill. */
  tableCreatedAt: string;
  totalSegments: number;
  marginMs: number;
  startedAt: string;
  segments: SegmentCheckpoint[];
}

/** Raised when the checkpoint file exists but cannot be read; the message names the file, never its content. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** The checkpoint file of a state directory. */
export const checkpointPath = (stateDir: string): string => path.join(stateDir, BACKFILL_CHECKPOINT_FILE);

/** Reads the checkpoint; undefined when there is none. */
export function readCheckpoint(file: string): BackfillCheckpoint | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CheckpointError(`cannot read the backfill checkpoint ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  try {
    const parsed = JSON.parse(text) as BackfillCheckpoint;
    if (parsed.format !== 'claims-cdc.backfill.v1' || !Array.isArray(parsed.segments) || parsed.segments.length !== parsed.totalSegments) throw new Error('format');
    return parsed;
  } catch {
    throw new CheckpointError(`the backfill checkpoint ${file} is not readable; start over with --restart`);
  }
}

/** A new checkpoint: every segment at its start. */
export function newCheckpoint(table: string, tableCreatedAt: string, totalSegments: number, marginMs: number, now = new Date()): BackfillCheckpoint {
  return {
    format: 'claims-cdc.backfill.v1',
    table,
    tableCreatedAt,
    totalSegments,
    marginMs,
    startedAt: now.toISOString(),
    segments: Array.from({ length: totalSegments }, () => ({ done: false, read: 0, sent: 0, rejected: 0 })),
  };
}

/** Writes checkpoints of one backfill; every write replaces the file atomically (0600). */
export class CheckpointFile {
  constructor(
    readonly file: string,
    readonly state: BackfillCheckpoint,
  ) {}

  /** Records a change of one segment, durably, before the caller goes on. */
  update(segment: number, change: Partial<SegmentCheckpoint>): void {
    const current = this.state.segments[segment] as SegmentCheckpoint;
    const next: SegmentCheckpoint = { ...current, ...change };
    if ('startKey' in change && change.startKey === undefined) delete next.startKey;
    if ('pageRequestedAtMs' in change && change.pageRequestedAtMs === undefined) delete next.pageRequestedAtMs;
    this.state.segments[segment] = next;
    this.save();
  }

  save(): void {
    writeFileAtomic(this.file, `${JSON.stringify(this.state)}\n`);
  }
}
