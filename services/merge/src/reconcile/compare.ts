/**
 * The comparison behind reconciliation, pure: per claim, the item's row hash (or why the pipeline cannot process
 * the item) against the destination's row hashes. Claim ids only: hashes never leave this module's callers' memory,
 * values never enter it.
 */

/** What the scan found for one item: its row hash, or the reason the pipeline rejects it (never a value). */
export type ItemHash = { readonly hash: string } | { readonly rejected: string };

/** The destination's row hashes of one claim (more than one: duplicate rows). */
export type DestinationHashes = ReadonlyMap<string, readonly string[]>;

/** The categories a claim can fall in; each lists claim ids, sorted. */
export interface Comparison {
  /** In DynamoDB, not in the destination. */
  readonly missing: string[];
  /** In the destination, not in DynamoDB. */
  readonly extra: string[];
  /** In both, with a different row hash. */
  readonly differing: string[];
  /** More than one destination row (the next merge of the claim repairs it). */
  readonly duplicated: string[];
  /** Items the pipeline cannot process (their changes are quarantined): reported, never repaired. */
  readonly quarantined: ReadonlyArray<{ claimId: string; reason: string }>;
  /** Claims that would be missing, extra or differing but have changes staged and not merged yet. */
  readonly inFlight: string[];
}

/** Compares item hashes with destination hashes; `staged` holds the claims with unmerged changes. */
export const compareHashes = (items: ReadonlyMap<string, ItemHash>, destination: DestinationHashes, staged: ReadonlySet<string> = new Set()): Comparison => {
  const missing: string[] = [];
  const differing: string[] = [];
  const quarantined: Array<{ claimId: string; reason: string }> = [];
  const inFlight: string[] = [];
  const drift = (claimId: string, list: string[]): void => void (staged.has(claimId) ? inFlight : list).push(claimId);
  for (const [claimId, item] of items) {
    const hashes = destination.get(claimId);
    if ('rejected' in item) quarantined.push({ claimId, reason: item.rejected });
    else if (hashes === undefined || hashes.length === 0) drift(claimId, missing);
    else if (hashes.some((h) => h !== item.hash)) drift(claimId, differing);
  }
  const extra: string[] = [];
  const duplicated: string[] = [];
  for (const [claimId, hashes] of destination) {
    if (!items.has(claimId)) drift(claimId, extra);
    if (hashes.length > 1) duplicated.push(claimId);
  }
  const sorted = (list: string[]) => list.sort();
  return {
    missing: sorted(missing),
    extra: sorted(extra),
    differing: sorted(differing),
    duplicated: sorted(duplicated),
    quarantined: quarantined.sort((a, b) => (a.claimId < b.claimId ? -1 : a.claimId > b.claimId ? 1 : 0)),
    inFlight: sorted(inFlight),
  };
};

/** Names of the columns whose field hashes differ (a missing side differs in every column). */
export const differingColumns = (item: Readonly<Record<string, string>>, destination: Readonly<Record<string, unknown>> | undefined, columns: readonly string[]): string[] =>
  columns.filter((name) => destination === undefined || destination[`h_${name}`] !== item[name]);
