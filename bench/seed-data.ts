/**
 * Seeded benchmark data: realistic claim change records and staged rows, the same on every machine for a seed.
 * Content comes from the shared claim generator; ids and timestamps are laid out here so that the destination
 * (generated in SQL, see destination-setup.ts) and the change batches refer to the same claims.
 */
import { type Claim, type ClaimRow, type ClaimStatus, type EventName, generateClaims, Prng, toClaimRow } from '@claims-cdc/shared';
import { changeEvent, changeRecord, kinesisEvent } from '@claims-cdc/shared/test-support/factories';
import type { KinesisStreamRecord } from 'aws-lambda';

/** 2025-01-01T00:00:00Z in microseconds: versions of the pre-built destination rows start here. */
export const DESTINATION_EPOCH_MICROS = 1_735_689_600_000_000;
/** 2025-06-01T00:00:00Z in microseconds: every benchmark change happens after this, so it is newer than the destination. */
export const CHANGES_EPOCH_MICROS = 1_748_736_000_000_000;

/** The id of claim number `index`: the same formula as the SQL in destination-setup.ts (`printf('CLM-%08X', i)`). */
export const claimIdFor = (index: number): string => `CLM-${index.toString(16).toUpperCase().padStart(8, '0')}`;

/** A Kinesis-style sequence number (56 decimal digits, increasing with `n`). */
export const sequenceFor = (n: number): string => `4960${String(n).padStart(52, '0')}`;

const NEXT_STATUS: Record<ClaimStatus, ClaimStatus> = { Submitted: 'In Review', 'In Review': 'Approved', Approved: 'Paid', Rejected: 'In Review', Paid: 'Paid' };
const PAYMENT: Record<ClaimStatus, Claim['payment_status']> = { Submitted: 'Pending', 'In Review': 'Processing', Approved: 'Processing', Rejected: 'Denied', Paid: 'Paid' };

/** The claim after one more step of its workflow (what a MODIFY writes). */
export const advance = (claim: Claim): Claim => {
  const status = NEXT_STATUS[claim.claim_status];
  return { ...claim, claim_status: status, payment_status: PAYMENT[status] };
};

/**
 * `count` Kinesis Lambda records carrying DynamoDB→Kinesis change records (built with buildChangeRecord via the test
 * factories): 40 % INSERT, 45 % MODIFY (new and old image), 15 % REMOVE (old image), each a different claim.
 */
export const kinesisRecords = (count: number, seed: number): KinesisStreamRecord[] => {
  const rng = new Prng(seed);
  const claims = generateClaims(count, seed);
  const payloads = claims.map((claim, i) => {
    const roll = rng.next();
    const micros = CHANGES_EPOCH_MICROS + i * 1_000;
    const eventId = `tr-${seed}-${i}`;
    if (roll < 0.4) return changeRecord({ eventName: 'INSERT', claim, micros, eventId });
    if (roll < 0.85) return changeRecord({ eventName: 'MODIFY', claim: advance(claim), micros, eventId }, claim);
    return changeRecord({ eventName: 'REMOVE', claim, micros, eventId });
  });
  return kinesisEvent(payloads).Records;
};

/** Options of {@link mergeBatch}. */
export interface MergeBatchOptions {
  /** Rows in the pre-built destination: claims 0 .. destinationRows-1 exist there. */
  readonly destinationRows: number;
  /** Staged rows in the batch, duplicates included. */
  readonly events: number;
  /** Share of events delivered twice (at-least-once redelivery: same event id, same content). */
  readonly duplicateRate: number;
  /** Rows that arrive while a merge runs (for the "deleted unmerged" check). */
  readonly lateEvents: number;
  readonly seed: number;
}

/** A batch of staged change rows and what it contains. */
export interface MergeBatch {
  /** All staged rows in arrival order, duplicates included. */
  readonly rows: ClaimRow[];
  /** One row per distinct event. */
  readonly uniqueRows: ClaimRow[];
  /** Event ids delivered twice (one entry per extra copy). */
  readonly duplicateEventIds: string[];
  /** Distinct claims the batch touches, and how many of them already exist in the destination. */
  readonly claims: number;
  readonly existingClaims: number;
  readonly counts: Record<EventName, number>;
  /** Rows staged while a merge runs: half follow-ups of claims in the batch, half changes of other existing claims. */
  readonly lateRows: ClaimRow[];
  /** Of the late rows, how many belong to claims of the batch. */
  readonly lateRowsOnBatchClaims: number;
}

/** One planned change of one claim. */
export interface PlannedChange {
  readonly eventName: EventName;
  /** The image after the change (for a REMOVE: the deleted item). */
  readonly claim: Claim;
  /** The image before the change (MODIFY, REMOVE). */
  readonly oldImage?: Claim;
  readonly micros: number;
}

/** Options of {@link planChanges}. */
export interface PlanOptions {
  /** Claims 0 .. destinationRows-1 already exist; 0 plans only new claims. */
  readonly destinationRows: number;
  /** Distinct events to plan (the last claim's changes may go a little past it). */
  readonly events: number;
  readonly seed: number;
}

const CHANGE_SPAN_MICROS = 300_000_000;

/**
 * Changes as a table sees them over a few minutes, in time order: existing claims move through their workflow
 * (1–4 MODIFYs, 15 % then deleted), new claims are inserted (then 0–3 MODIFYs, 10 % deleted again), and the changes
 * of different claims interleave.
 */
export const planChanges = (options: PlanOptions): { changes: PlannedChange[]; usedExisting: Set<number>; rng: Prng; contentFor: (index: number) => Claim } => {
  const rng = new Prng(options.seed);
  const pool = generateClaims(2_000, options.seed);
  const contentFor = (index: number): Claim => ({ ...(pool[index % pool.length] as Claim), claim_id: claimIdFor(index) });
  const changes: PlannedChange[] = [];
  const usedExisting = new Set<number>();
  let nextNew = options.destinationRows;
  while (changes.length < options.events) {
    let at = CHANGES_EPOCH_MICROS + rng.int(0, CHANGE_SPAN_MICROS);
    const later = (): number => (at += rng.int(1_000, 20_000_000));
    if (rng.next() < 0.6 && usedExisting.size < options.destinationRows / 2) {
      let index = rng.int(0, options.destinationRows - 1);
      while (usedExisting.has(index)) index = rng.int(0, options.destinationRows - 1);
      usedExisting.add(index);
      let claim = contentFor(index);
      for (let k = rng.int(1, 4); k > 0; k -= 1) {
        const next = advance(claim);
        changes.push({ eventName: 'MODIFY', claim: next, oldImage: claim, micros: later() });
        claim = next;
      }
      if (rng.next() < 0.15) changes.push({ eventName: 'REMOVE', claim, oldImage: claim, micros: later() });
    } else {
      let claim = contentFor(nextNew);
      nextNew += 1;
      changes.push({ eventName: 'INSERT', claim, micros: at });
      for (let k = rng.int(0, 3); k > 0; k -= 1) {
        const next = advance(claim);
        changes.push({ eventName: 'MODIFY', claim: next, oldImage: claim, micros: later() });
        claim = next;
      }
      if (rng.next() < 0.1) changes.push({ eventName: 'REMOVE', claim, oldImage: claim, micros: later() });
    }
  }
  changes.sort((a, b) => a.micros - b.micros);
  return { changes, usedExisting, rng, contentFor };
};

/**
 * A merge batch as a shard would deliver it over a few minutes ({@link planChanges}), with a share of events
 * delivered twice, plus rows that arrive while a merge runs.
 */
export const mergeBatch = (options: MergeBatchOptions): MergeBatch => {
  // A little more than needed, so that with the random redeliveries there are always `events` rows to keep.
  const unique = Math.ceil((options.events / (1 + options.duplicateRate)) * 1.02) + 10;
  const { changes: planned, usedExisting, rng, contentFor } = planChanges({ destinationRows: options.destinationRows, events: unique, seed: options.seed });
  const pool = generateClaims(2_000, options.seed);
  const uniqueRows = planned.map((p, n) =>
    toClaimRow(changeEvent({ eventName: p.eventName, claim: p.claim, micros: p.micros, seq: sequenceFor(n), eventId: `mb-${options.seed}-${n}` })),
  );
  // A redelivered copy arrives a little after its original (Lambda retries a batch, SQS redelivers a message).
  const arrivals: Array<{ key: number; row: ClaimRow; duplicate: boolean }> = uniqueRows.map((row, i) => ({ key: i, row, duplicate: false }));
  for (let i = 0; i < uniqueRows.length; i += 1) {
    if (rng.next() < options.duplicateRate) arrivals.push({ key: i + rng.int(1, 500) + 0.5, row: uniqueRows[i] as ClaimRow, duplicate: true });
  }
  arrivals.sort((a, b) => a.key - b.key);
  const kept = arrivals.slice(0, options.events);
  const rows = kept.map((a) => a.row);
  const duplicateEventIds = kept.filter((a) => a.duplicate).map((a) => String(a.row.eventId));
  const keptIds = new Set(rows.map((r) => String(r.eventId)));
  const keptUnique = uniqueRows.filter((r) => keptIds.has(String(r.eventId)));

  const counts: Record<EventName, number> = { INSERT: 0, MODIFY: 0, REMOVE: 0 };
  for (const r of rows) counts[r.eventName as EventName] += 1;
  const batchClaims = [...new Set(keptUnique.map((r) => String(r.claimId)))];

  const lateRows: ClaimRow[] = [];
  const lateMicros = CHANGES_EPOCH_MICROS + CHANGE_SPAN_MICROS * 2;
  let lateRowsOnBatchClaims = 0;
  for (let i = 0; i < options.lateEvents; i += 1) {
    const onBatch = i % 2 === 0 && batchClaims.length > 0;
    let claim: Claim;
    if (onBatch) {
      const claimId = batchClaims[rng.int(0, batchClaims.length - 1)] as string;
      claim = advance({ ...(pool[rng.int(0, pool.length - 1)] as Claim), claim_id: claimId });
      lateRowsOnBatchClaims += 1;
    } else {
      let index = rng.int(0, options.destinationRows - 1);
      while (usedExisting.has(index)) index = rng.int(0, options.destinationRows - 1);
      claim = advance(contentFor(index));
    }
    lateRows.push(toClaimRow(changeEvent({ eventName: 'MODIFY', claim, micros: lateMicros + i * 1_000, seq: sequenceFor(uniqueRows.length + i), eventId: `late-${options.seed}-${i}` })));
  }

  return {
    rows,
    uniqueRows: keptUnique,
    duplicateEventIds,
    claims: batchClaims.length,
    existingClaims: batchClaims.filter((id) => parseInt(id.slice(4), 16) < options.destinationRows).length,
    counts,
    lateRows,
    lateRowsOnBatchClaims,
  };
};

/**
 * `count` distinct staged rows for the load benchmark: realistic content from a pool of generated claims, each row
 * its own event of its own claim (`offset` keeps runs apart).
 */
export const loadRows = (count: number, offset: number, seed: number): ClaimRow[] => {
  const pool = generateClaims(500, seed).map((claim, i) =>
    toClaimRow(changeEvent({ eventName: i % 3 === 0 ? 'INSERT' : 'MODIFY', claim, micros: CHANGES_EPOCH_MICROS, seq: sequenceFor(0), eventId: 'pool' })),
  );
  return Array.from({ length: count }, (_, i) => {
    const n = offset + i;
    const base = pool[n % pool.length] as ClaimRow;
    return { ...base, eventId: `ld-${seed}-${n}`, claimId: claimIdFor(50_000_000 + n), eventCreationUnixTime: String(CHANGES_EPOCH_MICROS + n), sequenceNumber: sequenceFor(n) };
  });
};
