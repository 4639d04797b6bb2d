/**
 * The `backfill` fault: a share of the workload's claims exists before the run, written untracked — straight into the
 * DynamoDB emulator, behind the capture, as `generate --untracked` does — so no stream record ever carries them; after
 * 30 % of the events the real backfill (`runBackfill`, what `claims-cdc backfill` runs) starts while the workload goes
 * on writing INSERT/MODIFY/REMOVE, to those same claims too. The backfill process is killed once right after its first
 * page reached the load queue and before its checkpoint recorded it (every later call of that process fails), then
 * started again: it resumes from its checkpoint and sends that page again with the same event ids. With `stack-kill`
 * a kill of the stack cuts it too, and it resumes the same way against the restarted stack.
 *
 * What the checks expect is read from DynamoDB's side, not from the pipeline: a middleware on the backfill's
 * DynamoDB client records every Scan page DynamoDB returned (segment, items) and the request time the backfill had
 * recorded for it before sending it (its checkpoint file, where a resumed backfill takes it from). Each item of a
 * page is one read: one snapshot event in history (`snapshot-` + hash of segment, request time and claim id: the
 * documented id, so a page read again gives the same ids and must be kept once), version
 * `(request time − margin) µs, ''`, which outranks the claim's stream events older than it and is outranked by the
 * newer ones; an item too large for a queue message is quarantined as `too-large` with its record as payload.
 */
import { DynamoDBClient, type ScanCommandInput, type ScanCommandOutput } from '@aws-sdk/client-dynamodb';
import { SQSClient, type SendMessageBatchCommandInput } from '@aws-sdk/client-sqs';
import type { WireItem } from '@claims-cdc/shared';
import { DEFAULT_SKEW_MARGIN_MS, SNAPSHOT_EVENT_NAME, snapshotChangeRecord, snapshotEventId } from '@claims-cdc/shared/domain/snapshot';
import { checkpointPath, readCheckpoint } from '../backfill/checkpoint';
import { runBackfill, type BackfillSummary } from '../backfill/run-backfill';
import { putUntracked, uncapturedClient } from '../backfill/untracked-writer';
import type { RunningStack } from '../stack';
import { LOCAL_CREDENTIALS } from '../stack/aws-env';
import { ChaosFault } from './faults';
import type { Ledger, StackRef } from './sources';
import type { Check } from './verify';
import { OVERSIZED_ATTRIBUTE, type Workload } from './workload';

/** When the backfill starts: after this share of the events is written. */
export const BACKFILL_START_SHARE = 0.3;
/** Scan segments of the harness's backfill. */
const SEGMENTS = 2;
/** Read budget (RCU/s): small, so the backfill lasts while the workload writes. */
const MAX_RCU = 20;
/** A backfill that has failed this many times in a row is not coming back. */
const MAX_RUNS = 12;

/** What the fault did (counts only). */
export interface BackfillCounts {
  /** Claims written untracked before the run, and of those how many the workload never writes. */
  untracked: number;
  untrackedCold: number;
  /** Events written when it started, and how many the workload wrote while it ran. */
  startedAfter: number;
  writesDuring: number;
  /** Runs of the backfill (the first, the resume after the injected crash, resumes after stack kills). */
  runs: number;
  crashes: number;
  cutByKill: number;
  /** Scan pages DynamoDB returned to it, pages read a second time (same request time), items read. */
  pages: number;
  pagesReread: number;
  itemsRead: number;
  /** Reads of an item too large for a queue message (quarantined as too-large). */
  oversizedReads: number;
  complete: boolean;
  /** The last run's summary as `runBackfill` reports it. */
  summary?: BackfillSummary;
}

/** One Scan page DynamoDB returned. */
export interface PageRead {
  segment: number;
  /** The request time the backfill recorded for the page before requesting it (undefined: it recorded none). */
  requestedAtMs: number | undefined;
  /** The wall clock when the request left (the recorded time must not be later). */
  sentAtMs: number;
  items: WireItem[];
}

/** The backfill a run's process would run, observed. */
export class ChaosBackfill {
  readonly counts: BackfillCounts = {
    untracked: 0,
    untrackedCold: 0,
    startedAfter: 0,
    writesDuring: 0,
    runs: 0,
    crashes: 0,
    cutByKill: 0,
    pages: 0,
    pagesReread: 0,
    itemsRead: 0,
    oversizedReads: 0,
    complete: false,
  };
  readonly #pages: PageRead[] = [];
  readonly #checkpointFile: string;
  #running: Promise<void> | undefined;
  #tableName = '';

  constructor(
    private readonly ref: StackRef,
    stateDir: string,
    private readonly pageSize: number,
    private readonly marginMs = DEFAULT_SKEW_MARGIN_MS,
  ) {
    this.#checkpointFile = checkpointPath(stateDir);
  }

  /** Writes the workload's untracked claims straight into the DynamoDB emulator (no stream record). */
  async preload(workload: Workload): Promise<void> {
    const stack = await this.ref.ready();
    const endpoint = stack.endpoints.dynamodbUncaptured;
    if (!endpoint) throw new Error('the stack publishes no uncaptured DynamoDB endpoint: the backfill fault needs the embedded emulators');
    const client = uncapturedClient(endpoint, stack.config.region);
    try {
      await putUntracked(client, stack.resources.table.name, workload.untracked);
    } finally {
      client.destroy();
    }
    this.counts.untracked = workload.counts.untracked;
    this.counts.untrackedCold = workload.counts.untrackedCold;
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  /** Starts the backfill in the background; `written()` tells how many events the workload has written. */
  start(written: () => number): void {
    this.counts.startedAfter = written();
    this.#running = this.#runToEnd().finally(() => {
      this.counts.writesDuring = written() - this.counts.startedAfter;
    });
    // A failure is reported when the run awaits it (`finished`), not as an unhandled rejection meanwhile.
    this.#running.catch(() => undefined);
  }

  /** Waits for the backfill to complete (it must have been started). */
  async finished(): Promise<void> {
    if (!this.#running) throw new Error('the backfill never started (run too short?)');
    await this.#running;
  }

  async #runToEnd(): Promise<void> {
    let crash = true;
    for (let run = 1; ; run += 1) {
      const stack = await this.ref.ready();
      const epoch = this.ref.epoch;
      this.#tableName = stack.resources.table.name;
      this.counts.runs += 1;
      const proc = this.#process(stack, crash);
      try {
        const summary = await runBackfill({
          dynamodb: proc.dynamodb,
          sqs: proc.sqs,
          tableName: stack.resources.table.name,
          loadQueueUrl: stack.resources.queues.load.url,
          quarantineQueueUrl: stack.resources.queues.quarantine.url,
          checkpointFile: this.#checkpointFile,
          segments: SEGMENTS,
          maxRcu: MAX_RCU,
          marginMs: this.marginMs,
          pageSize: this.pageSize,
          // The first run starts a new backfill whatever the state directory held.
          restart: run === 1,
        });
        this.counts.summary = summary;
        if (summary.complete) {
          this.counts.complete = true;
          return;
        }
        if (run >= MAX_RUNS) throw new Error(`the backfill did not complete in ${MAX_RUNS} runs`);
      } catch (error) {
        if (proc.killed()) {
          this.counts.crashes += 1;
          crash = false;
        } else if (this.ref.epoch !== epoch || this.ref.restarting) {
          this.counts.cutByKill += 1;
        } else {
          throw error;
        }
        if (run >= MAX_RUNS) throw error;
      } finally {
        proc.destroy();
      }
    }
  }

  /**
   * The clients of one backfill process, observed. With `crash`, the process dies right after its first page reached
   * the load queue: that send succeeds, then it and every later call fail (nothing more is sent or read; the
   * checkpoint still holds the page as requested, not done).
   */
  #process(stack: RunningStack, crash: boolean): { dynamodb: DynamoDBClient; sqs: SQSClient; killed: () => boolean; destroy: () => void } {
    let dead = false;
    const common = { region: stack.config.region, credentials: LOCAL_CREDENTIALS };
    const dynamodb = new DynamoDBClient({ ...common, endpoint: stack.endpoints.dynamodb });
    const sqs = new SQSClient({ ...common, endpoint: stack.endpoints.sqs });
    const alive = () => {
      if (dead) throw new ChaosFault('the backfill process was killed');
    };
    dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        alive();
        if (context.commandName !== 'ScanCommand') return next(args);
        const input = args.input as ScanCommandInput;
        const segment = input.Segment ?? 0;
        // Recorded (durably) by the backfill before it sends the request.
        const requestedAtMs = readCheckpoint(this.#checkpointFile)?.segments[segment]?.pageRequestedAtMs;
        const sentAtMs = Date.now();
        const result = await next(args);
        const items = ((result.output as ScanCommandOutput).Items ?? []) as unknown as WireItem[];
        this.#pages.push({ segment, requestedAtMs, sentAtMs, items });
        return result;
      },
      { step: 'initialize', name: 'chaosBackfillScanObserver' },
    );
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        alive();
        const result = await next(args);
        const input = args.input as SendMessageBatchCommandInput;
        if (crash && context.commandName === 'SendMessageBatchCommand' && input.QueueUrl === stack.resources.queues.load.url) {
          dead = true;
          throw new ChaosFault('the backfill process was killed after a page reached the load queue, before its checkpoint');
        }
        return result;
      },
      { step: 'initialize', name: 'chaosBackfillCrash' },
    );
    return {
      dynamodb,
      sqs,
      killed: () => dead,
      destroy: () => {
        dynamodb.destroy();
        sqs.destroy();
      },
    };
  }

  /** Adds what the backfill's reads must leave to the ledger ({@link addReadsToLedger}). */
  extendLedger(ledger: Ledger): void {
    Object.assign(this.counts, addReadsToLedger(ledger, this.#pages, this.#tableName, this.marginMs));
  }

  /** The fault's own checks: it completed, every page was labelled before it was read, every untracked claim read. */
  checks(workload: Workload): Check[] {
    const unlabelled = this.#pages.filter((p) => p.requestedAtMs === undefined || p.requestedAtMs > p.sentAtMs);
    const readIds = new Set(this.#pages.flatMap((p) => p.items.map((i) => String(i.claim_id?.S))));
    // An untracked claim the workload removed before the Scan reached it is rightly not read.
    const notRead = workload.untracked.map((c) => c.claim_id).filter((id) => !readIds.has(id));
    const unread = notRead.filter((id) => !workload.removed.has(id));
    const reread = new Set<string>();
    const keys = new Set<string>();
    for (const p of this.#pages) {
      const key = `${p.segment}:${p.requestedAtMs}`;
      if (keys.has(key)) reread.add(key);
      keys.add(key);
    }
    return [
      {
        name: 'backfill complete (resumed after its crash)',
        expected: `complete, ${this.counts.untracked} untracked claims read`,
        actual: `${this.counts.complete ? 'complete' : 'incomplete'} after ${this.counts.runs} run(s), ${this.counts.untracked - notRead.length} read${notRead.length > unread.length ? ` (${notRead.length - unread.length} removed before the Scan reached them)` : ''}`,
        // Resumed: the page the crash cut was read again with the request time its checkpoint kept.
        ok: this.counts.complete && this.counts.crashes > 0 && reread.size > 0 && unread.length === 0,
        details: [
          ...unread.slice(0, 5).map((id) => `untracked ${id} never read`),
          ...(this.counts.crashes === 0 ? ['the backfill was never crashed'] : reread.size === 0 ? ['no page was read again with its recorded request time after the crash'] : []),
        ],
      },
      {
        name: '  pages versioned at their request time',
        expected: `${this.#pages.length} pages, each time taken before its read`,
        actual: `${this.#pages.length - unlabelled.length} pages`,
        ok: unlabelled.length === 0 && this.#pages.length > 0,
        details: unlabelled.slice(0, 5).map((p) => `segment ${p.segment}: ${p.requestedAtMs === undefined ? 'no request time recorded' : `request time ${p.requestedAtMs - p.sentAtMs} ms after the read was sent`}`),
      },
    ];
  }
}

/**
 * Adds what the backfill's reads must leave to the ledger: per page read (segment and recorded request time), one
 * snapshot event per item in history — once, however often the page was read — or, for an item too large, one
 * quarantine entry; and a snapshot newer than a claim's newest stream event is what its destination row carries.
 *
 * A page read again (same request time) after a run was cut: its last read completed (the checkpoint moved past
 * it), so its items must be there; an item only an earlier read returned (removed, or moved to a later page in
 * between) may be, if that read's send landed before the cut.
 */
export function addReadsToLedger(
  ledger: Ledger,
  pages: readonly PageRead[],
  tableName: string,
  marginMs: number,
): Pick<BackfillCounts, 'pages' | 'pagesReread' | 'itemsRead' | 'oversizedReads'> {
  const counts = { pages: pages.length, pagesReread: 0, itemsRead: 0, oversizedReads: 0 };
  const last = new Map<string, PageRead>();
  const earlier: PageRead[] = [];
  for (const page of pages) {
    counts.itemsRead += page.items.length;
    const key = `${page.segment}:${page.requestedAtMs}`;
    const previous = last.get(key);
    if (previous) earlier.push(previous);
    last.set(key, page);
  }
  counts.pagesReread = earlier.length;
  const newestSnapshot = new Map<string, { micros: bigint; eventId: string }>();
  const quarantined = new Set<string>();
  const lastOversized = new Set<string>();
  for (const page of last.values()) {
    if (page.requestedAtMs === undefined) continue;
    const read = { reader: `segment-${page.segment}`, requestedAtMs: page.requestedAtMs, marginMs: marginMs };
    const micros = BigInt(page.requestedAtMs - marginMs) * 1000n;
    for (const item of page.items) {
      const claimId = String(item.claim_id?.S);
      if (item[OVERSIZED_ATTRIBUTE] !== undefined) {
        counts.oversizedReads += 1;
        lastOversized.add(`segment-${page.segment}:${page.requestedAtMs}:${claimId}`);
        const payload = Buffer.from(JSON.stringify(snapshotChangeRecord(item, tableName, read)), 'utf8').toString('base64');
        if (!quarantined.has(payload)) ledger.quarantined.push({ reason: 'too-large', payload, what: 'oversized item read by the backfill' });
        quarantined.add(payload);
        continue;
      }
      const eventId = snapshotEventId(read, claimId);
      ledger.historyIds.add(eventId);
      const best = newestSnapshot.get(claimId);
      if (!best || micros > best.micros) newestSnapshot.set(claimId, { micros, eventId });
    }
  }
  for (const page of earlier) {
    if (page.requestedAtMs === undefined) continue;
    for (const item of page.items) {
      const id = snapshotEventId({ reader: `segment-${page.segment}`, requestedAtMs: page.requestedAtMs }, String(item.claim_id?.S));
      if (item[OVERSIZED_ATTRIBUTE] !== undefined) {
        const origin = `segment-${page.segment}:${page.requestedAtMs}:${String(item.claim_id?.S)}`;
        if (!lastOversized.has(origin)) (ledger.mayQuarantineOrigins ??= new Set()).add(origin);
      } else if (!ledger.historyIds.has(id)) (ledger.mayHistoryIds ??= new Set()).add(id);
    }
  }
  // The merge keeps the newer version: (µs, sequence number), and '' (a snapshot's) sorts below any sequence number.
  for (const [claimId, snapshot] of newestSnapshot) {
    const stream = ledger.newest.get(claimId);
    if (stream && BigInt(stream.micros) >= snapshot.micros) continue;
    ledger.newest.set(claimId, { eventId: snapshot.eventId, eventName: SNAPSHOT_EVENT_NAME, micros: String(snapshot.micros), sequenceNumber: '' });
  }
  return counts;
}
