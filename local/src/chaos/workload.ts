/**
 * The chaos workload: a seeded, deterministic sequence of INSERT / MODIFY / REMOVE operations over K claims, with
 * rapid bursts on one claim, poison records, oversized items and (with `exotic-values`) values of every DynamoDB type
 * at the edge of what it stores, plus the item model the operations produce. Model items may hold `NumberValue`s,
 * sets and bytes: copy them with `cloneItem`, never `structuredClone`.
 *
 * It depends on the seed alone (never on timing), so the same arguments always write the same items; the PHI test
 * regenerates every value the workload can write from the seed with the shared generator ({@link phiSources}).
 *
 * Rules that keep the checks exact:
 * - every MODIFY really changes the item (a no-op write emits no stream record, so the event count would drift);
 * - a REMOVE is final for that claim id (so "no claim resurrected" means exactly "removed ids stay absent");
 * - the oversized item is grown by one MODIFY and shrunk back by a later one, and is neither modified nor removed in
 *   between (see docs/chaos.md: while it is oversized the destination holds its last fitting version).
 */
import { CLAIM_STATUSES, generateClaims, PAYMENT_STATUSES, Prng, type Claim } from '@claims-cdc/shared';
import { asNumber, cloneItem, exoticAttributes, exoticKnownAttributes } from './exotic';

/** An item change, as the workload decides it (images are plain, unmarshalled items). */
export type ChangeOp =
  | { readonly kind: 'INSERT'; readonly claimId: string; readonly after: Claim }
  | {
      readonly kind: 'MODIFY';
      readonly claimId: string;
      readonly before: Claim;
      readonly after: Claim;
      /** Set for status-only changes, written with UpdateItem (the others are full PutItems). */
      readonly statusUpdate?: { readonly claim_status: string; readonly payment_status: string };
      /** This change makes the item larger than a load-queue message: it must be quarantined as too-large. */
      readonly oversized?: true;
    }
  | { readonly kind: 'REMOVE'; readonly claimId: string; readonly before: Claim };

/** The poison records the harness puts straight onto the stream, and the reason each must be quarantined with. */
export const POISON_KINDS = {
  'not-json': 'not-json',
  'envelope-wrong-types': 'not-a-change-record',
  'not-a-claim': 'not-a-claim',
  'image-wrong-types': 'claim-schema',
  'unknown-event-name': 'unknown-event-name',
  'insert-without-new-image': 'missing-image',
  'key-mismatch': 'key-mismatch',
  // Impossible calendar values that match the claim schema's patterns (the warehouse's CAST would reject them).
  'impossible-date': 'claim-schema',
  'impossible-hour': 'claim-schema',
  'impossible-service-date': 'claim-schema',
  // An integer column out of range: a 20-digit zip.
  'zip-out-of-range': 'claim-schema',
  // ApproximateCreationDateTime mislabelled: microseconds labelled MILLISECOND (the year 55000), milliseconds
  // labelled MICROSECOND (January 1970). Kept, either would pin its claim or never win.
  'micros-labelled-millis': 'implausible-time',
  'millis-labelled-micros': 'implausible-time',
  // A malformed attribute value in an attribute the schema does not know ({"N": "twelve"}).
  'malformed-number': 'not-a-change-record',
} as const;

export type PoisonKind = keyof typeof POISON_KINDS;

/** A poison record to put on the stream; `claim` is a snapshot of a real item where the poison needs one. */
export interface PoisonOp {
  readonly kind: 'POISON';
  readonly poison: PoisonKind;
  readonly claim: Claim;
}

export type WorkloadOp = ChangeOp | PoisonOp;

export interface WorkloadOptions {
  readonly events: number;
  readonly claims: number;
  readonly seed: number;
  readonly poison: boolean;
  readonly oversized: boolean;
  /** Also grow a second item past the limit and then delete it: its REMOVE must still reach the warehouse. */
  readonly oversizedRemove?: boolean;
  /** Some INSERTs and MODIFYs write numbers of 38 digits, sets, binary, null, empty and nested values (`exotic.ts`). */
  readonly exoticValues?: boolean;
  /**
   * `backfill`: this share of the claims exists before the run, written untracked (behind the capture) and so reaching
   * the destination only through a backfill ({@link Workload.untracked}). Half of them the workload then modifies and
   * removes like any live claim; the other half it never touches (as most items of a real table).
   */
  readonly untrackedShare?: number;
}

/** The share of the claims the `backfill` fault writes untracked before the run. */
export const UNTRACKED_SHARE = 0.2;

/** The attribute that makes the oversized item oversized (filler text, never PHI). */
export const OVERSIZED_ATTRIBUTE = 'attachment_notes';
/** Its size: under DynamoDB's 400 KB item limit, over the 256 KiB queue message limit once flattened. */
export const OVERSIZED_BYTES = 300_000;

/** Seed of the generator that decides and makes the exotic values (apart, so the other decisions keep their seed). */
export const exoticSeed = (seed: number): number => (seed ^ 0x5e0717c5) >>> 0;

/** How often the exotic-values fault touches an INSERT and a MODIFY (after its first opportunity of each). */
const EXOTIC_RATES = { insert: 0.08, modify: 0.03 } as const;

/** Seed of the generator that supplies new patient contact details for MODIFYs. */
export const contactSeed = (seed: number): number => (seed ^ 0x2c1b3c6d) >>> 0;

/**
 * Everything the workload can write that holds PHI comes from these two pools of generated claims (the claims
 * themselves and the contact details MODIFYs copy from the second pool).
 */
export const phiSources = (seed: number, claims: number): { claims: Claim[]; contacts: Claim[] } => ({
  claims: generateClaims(claims, seed),
  contacts: generateClaims(claims, contactSeed(seed)),
});

/** Counts of what the workload made. */
export interface WorkloadCounts {
  INSERT: number;
  MODIFY: number;
  REMOVE: number;
  bursts: number;
  burstEvents: number;
  poison: Record<PoisonKind, number>;
  oversized: number;
  /** Oversized items deleted while oversized. */
  oversizedRemoved: number;
  /** Exotic values written: INSERTs and MODIFYs with them, and of those how many set 38-digit known attributes. */
  exotic: { inserts: number; modifies: number; knownAttributes: number };
  /** `backfill`: claims written untracked before the run, and of those how many the workload never writes. */
  untracked: number;
  untrackedCold: number;
}

const ICD10 = ['E11.9', 'I10', 'J06.9', 'M54.5', 'R51', 'K21.9', 'F41.1', 'Z00.00', 'J45.909', 'N39.0', 'E78.5', 'R10.9'];
const cents = (value: number): number => Math.round(value * 100) / 100;

/** See the module comment. */
export class Workload {
  /** Live items by claim id, as DynamoDB must hold them once every operation so far is applied. */
  readonly model = new Map<string, Claim>();
  /** Claim ids whose REMOVE has been issued. */
  readonly removed = new Set<string>();
  readonly counts: WorkloadCounts = {
    INSERT: 0,
    MODIFY: 0,
    REMOVE: 0,
    bursts: 0,
    burstEvents: 0,
    poison: Object.fromEntries(Object.keys(POISON_KINDS).map((k) => [k, 0])) as Record<PoisonKind, number>,
    oversized: 0,
    oversizedRemoved: 0,
    exotic: { inserts: 0, modifies: 0, knownAttributes: 0 },
    untracked: 0,
    untrackedCold: 0,
  };
  /** `backfill`: the items written untracked before the run (already in the model; no INSERT of them follows). */
  readonly untracked: Claim[] = [];

  readonly #rng: Prng;
  readonly #exoticRng: Prng;
  readonly #pool: Claim[];
  readonly #contacts: Claim[];
  /** Live ids in an array for O(1) random picks, with each id's position. */
  readonly #live: string[] = [];
  readonly #position = new Map<string, number>();
  /** Claims in an oversized scenario: nothing else touches them. */
  readonly #pinned = new Set<string>();
  #script: { at: number; then: number; end: 'shrink' | 'remove'; claimId?: string }[] | undefined;

  constructor(readonly options: WorkloadOptions) {
    this.#rng = new Prng(options.seed);
    this.#exoticRng = new Prng(exoticSeed(options.seed));
    const sources = phiSources(options.seed, options.claims);
    this.#pool = sources.claims;
    this.#contacts = sources.contacts;
    this.#preload();
  }

  /**
   * `backfill`: the first claims of the pool exist before the run (exotic values as an INSERT would get them). The
   * first half of them the workload never touches, so only a backfill brings them (the first, with `exotic-values`,
   * holds exotic values: they reach the destination through the snapshot alone); the second half are live for it.
   */
  #preload(): void {
    const share = this.options.untrackedShare ?? 0;
    if (share <= 0) return;
    const count = Math.min(this.options.claims - 1, Math.max(2, Math.round(this.options.claims * share)));
    const hot = Math.ceil(count / 2);
    for (let i = 0; i < count; i += 1) {
      const item = cloneItem(this.#pool[i] as Claim);
      if (this.#exotic('insert')) {
        Object.assign(item, exoticAttributes(this.#exoticRng));
        this.counts.exotic.inserts += 1;
      }
      this.untracked.push(cloneItem(item));
      this.model.set(item.claim_id, item);
      if (i >= count - hot) {
        this.#position.set(item.claim_id, this.#live.length);
        this.#live.push(item.claim_id);
      }
    }
    this.counts.untracked = count;
    this.counts.untrackedCold = count - hot;
  }

  /** The operations, generated lazily (a million of them never sit in memory at once). */
  *ops(): Generator<WorkloadOp> {
    const { events, claims } = this.options;
    const rng = this.#rng;
    const poisonAt = this.#poisonPositions();
    const removeRate = Math.min(0.05, (0.3 * claims) / Math.max(events, 1));
    // Untracked claims are the pool's first: the workload inserts the rest.
    let inserted = this.counts.untracked;
    let burst: { claimId: string; left: number; thenRemove: boolean } | undefined;

    for (let emitted = 0; emitted < events; emitted += 1) {
      for (const kind of poisonAt.get(emitted) ?? []) yield this.#poison(kind);

      const scripted = this.#scripted(emitted, events);
      if (scripted) {
        if (burst && this.#pinned.has(burst.claimId)) burst = undefined;
        yield scripted;
        continue;
      }

      if (burst && this.model.has(burst.claimId) && !this.#pinned.has(burst.claimId)) {
        this.counts.burstEvents += 1;
        if (burst.left === 1 && burst.thenRemove && this.#live.length > 1) {
          const claimId = burst.claimId;
          burst = undefined;
          yield this.#remove(claimId);
          continue;
        }
        const claimId = burst.claimId;
        burst.left -= 1;
        if (burst.left === 0) burst = undefined;
        yield this.#modify(claimId, 'random');
        continue;
      }
      burst = undefined;

      const insertsLeft = claims - inserted;
      const pInsert = this.#live.length === 0 ? 1 : Math.min(1, (2 * insertsLeft) / (events - emitted));
      if (insertsLeft > 0 && rng.next() < pInsert) {
        inserted += 1;
        yield this.#insert(this.#pool[inserted - 1] as Claim);
        continue;
      }
      const claimId = this.#pickLive();
      if (!claimId) {
        // Only the pinned (oversized) claim is live: insert another claim if any is left, else stop early (the
        // counts report how many events were made).
        if (insertsLeft > 0) {
          inserted += 1;
          yield this.#insert(this.#pool[inserted - 1] as Claim);
          continue;
        }
        return;
      }
      const roll = rng.next();
      if (roll < removeRate && this.#live.length > 1) {
        yield this.#remove(claimId);
      } else if (roll < removeRate + 0.12) {
        // A rapid burst: several changes of one claim back to back (they share stream batches, load batches, merges).
        const left = rng.int(2, 6);
        this.counts.bursts += 1;
        this.counts.burstEvents += 1;
        burst = { claimId, left: left - 1, thenRemove: rng.next() < 0.2 };
        yield this.#modify(claimId, 'random');
      } else {
        yield this.#modify(claimId, 'random');
      }
    }
  }

  /** Evenly spread positions for the poison records (every kind at least once), cycling through the kinds. */
  #poisonPositions(): Map<number, PoisonKind[]> {
    const at = new Map<number, PoisonKind[]>();
    if (!this.options.poison) return at;
    const kinds = Object.keys(POISON_KINDS) as PoisonKind[];
    const count = Math.max(kinds.length, Math.round(this.options.events * 0.01));
    for (let i = 0; i < count; i += 1) {
      // Position 0 has no live claim yet; poison that needs one borrows a pool claim instead.
      const position = Math.min(this.options.events - 1, Math.floor(((i + 0.5) * this.options.events) / count));
      at.set(position, [...(at.get(position) ?? []), kinds[i % kinds.length] as PoisonKind]);
    }
    return at;
  }

  #poison(kind: PoisonKind): PoisonOp {
    this.counts.poison[kind] += 1;
    const claimId = this.#pickLive();
    const claim = claimId ? (this.model.get(claimId) as Claim) : (this.#pool[0] as Claim);
    return { kind: 'POISON', poison: kind, claim: cloneItem(claim) };
  }

  /** A random live claim that no scenario holds, or undefined when there is none. */
  #pickLive(): string | undefined {
    const n = this.#live.length;
    if (n <= this.#pinned.size) return undefined;
    for (;;) {
      const id = this.#live[this.#rng.int(0, n - 1)] as string;
      if (!this.#pinned.has(id)) return id;
    }
  }

  /**
   * The scripted oversized scenarios, at fixed fractions of the run: grow an item past the queue message limit,
   * then shrink it back; and grow another and then delete it (the REMOVE, too large with its old image, must still
   * reach the warehouse).
   */
  #scripted(emitted: number, events: number): ChangeOp | undefined {
    if (events < 20) return undefined;
    this.#script ??= [
      ...(this.options.oversized ? [{ at: Math.floor(events * 0.3), then: Math.floor(events * 0.3) + Math.max(5, Math.floor(events * 0.2)), end: 'shrink' as const }] : []),
      ...(this.options.oversizedRemove ? [{ at: Math.floor(events * 0.6), then: Math.floor(events * 0.6) + 3, end: 'remove' as const }] : []),
    ];
    for (const step of this.#script) {
      if (emitted === step.at && !step.claimId) {
        const claimId = this.#pickLive();
        if (!claimId) continue;
        step.claimId = claimId;
        this.#pinned.add(claimId);
        return this.#modify(claimId, 'grow');
      }
      if (emitted === step.then && step.claimId) {
        this.#pinned.delete(step.claimId);
        if (step.end === 'shrink') return this.#modify(step.claimId, 'shrink');
        this.counts.oversizedRemoved += 1;
        return this.#remove(step.claimId);
      }
    }
    return undefined;
  }

  /** Whether the exotic-values fault touches this INSERT or MODIFY: at its first opportunity, then at its rate. */
  #exotic(kind: 'insert' | 'modify'): boolean {
    if (!this.options.exoticValues) return false;
    const done = kind === 'insert' ? this.counts.exotic.inserts : this.counts.exotic.modifies;
    return done === 0 || this.#exoticRng.next() < EXOTIC_RATES[kind];
  }

  #insert(claim: Claim): ChangeOp {
    const after = cloneItem(claim);
    if (this.#exotic('insert')) {
      Object.assign(after, exoticAttributes(this.#exoticRng));
      this.counts.exotic.inserts += 1;
    }
    this.model.set(after.claim_id, after);
    this.#position.set(after.claim_id, this.#live.length);
    this.#live.push(after.claim_id);
    this.counts.INSERT += 1;
    return { kind: 'INSERT', claimId: after.claim_id, after };
  }

  #remove(claimId: string): ChangeOp {
    const before = this.model.get(claimId) as Claim;
    this.model.delete(claimId);
    this.removed.add(claimId);
    const index = this.#position.get(claimId) as number;
    const last = this.#live.pop() as string;
    if (last !== claimId) {
      this.#live[index] = last;
      this.#position.set(last, index);
    }
    this.#position.delete(claimId);
    this.counts.REMOVE += 1;
    return { kind: 'REMOVE', claimId, before };
  }

  #modify(claimId: string, how: 'random' | 'grow' | 'shrink'): ChangeOp {
    const rng = this.#rng;
    const before = this.model.get(claimId) as Claim;
    const after = cloneItem(before) as Claim & Record<string, unknown>;
    let statusUpdate: { claim_status: string; payment_status: string } | undefined;
    if (how === 'grow') {
      // Filler text that compresses nothing away and says nothing about a patient.
      const unit = 'Scanned attachment, page text withheld; ';
      after[OVERSIZED_ATTRIBUTE] = unit.repeat(Math.ceil(OVERSIZED_BYTES / unit.length)).slice(0, OVERSIZED_BYTES);
      this.counts.oversized += 1;
    } else if (how === 'shrink') {
      delete after[OVERSIZED_ATTRIBUTE];
      after.claim_status = CLAIM_STATUSES[(CLAIM_STATUSES.indexOf(before.claim_status) + 1) % CLAIM_STATUSES.length] as Claim['claim_status'];
    } else if (this.#exotic('modify')) {
      // New exotic values (every one differs from the last, so the item changes); every other time also the known
      // attributes at their edge (a 38-digit total_charge, a 38-significant-digit procedure charge).
      Object.assign(after, exoticAttributes(this.#exoticRng));
      if (this.counts.exotic.modifies % 2 === 0) {
        Object.assign(after, exoticKnownAttributes(this.#exoticRng, after));
        this.counts.exotic.knownAttributes += 1;
      }
      this.counts.exotic.modifies += 1;
    } else {
      const roll = rng.next();
      if (roll < 0.4) {
        const others = CLAIM_STATUSES.filter((s) => s !== before.claim_status);
        after.claim_status = rng.pick(others);
        after.payment_status = rng.pick(PAYMENT_STATUSES);
        statusUpdate = { claim_status: after.claim_status, payment_status: after.payment_status };
      } else if (roll < 0.65) {
        const delta = cents((rng.int(1, 40_000) / 100) * (rng.next() < 0.3 ? -1 : 1));
        // A 38-digit total (exotic values) starts again from an ordinary amount: a double of it is not writable.
        const current = Number.isSafeInteger(Math.round(asNumber(before.total_charge) * 100)) ? asNumber(before.total_charge) : 1000;
        const total = cents(current + delta);
        after.total_charge = total === before.total_charge || total <= 0 ? cents(current + 1.11) : total;
      } else if (roll < 0.85) {
        const donor = this.#contacts[rng.int(0, this.#contacts.length - 1)] as Claim;
        after.patient = { ...after.patient, phone: donor.patient.phone, email: donor.patient.email, street: donor.patient.street };
        if (after.patient.phone === before.patient.phone && after.patient.email === before.patient.email && after.patient.street === before.patient.street) {
          after.claim_status = CLAIM_STATUSES[(CLAIM_STATUSES.indexOf(before.claim_status) + 1) % CLAIM_STATUSES.length] as Claim['claim_status'];
        }
      } else {
        const missing = ICD10.filter((code) => !before.diagnosis_codes.includes(code));
        if (missing.length > 0) after.diagnosis_codes = [...before.diagnosis_codes, rng.pick(missing)];
        else after.diagnosis_codes = before.diagnosis_codes.slice(0, 1);
      }
    }
    this.model.set(claimId, after);
    this.counts.MODIFY += 1;
    return { kind: 'MODIFY', claimId, before, after, ...(statusUpdate ? { statusUpdate } : {}), ...(how === 'grow' ? { oversized: true as const } : {}) };
  }
}
