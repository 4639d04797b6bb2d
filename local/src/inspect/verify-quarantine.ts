/**
 * Which quarantine entries hold a claim: verify reports a claim the pipeline cannot process as quarantined, with the
 * ids `claims-cdc quarantine show` takes, instead of as a difference to repair. Reads the stack's quarantine store
 * (payloads are decoded in memory for their claim ids only; nothing of them is returned).
 */
import { existsSync } from 'node:fs';
import { QuarantineStore, quarantineStorePath, type QuarantineEntryWithPayload } from '../quarantine/store';

/** The claim ids a quarantined payload carries (a stream record's key, a load message's rows), or none. */
export function claimIdsOfPayload(entry: Pick<QuarantineEntryWithPayload, 'origin' | 'payload'>): string[] {
  if (entry.payload === undefined) return [];
  try {
    if (entry.origin.stage === 'transform') {
      const record = JSON.parse(Buffer.from(entry.payload, 'base64').toString('utf8')) as { dynamodb?: { Keys?: { claim_id?: { S?: unknown } } }; claimId?: unknown };
      const id = record.dynamodb?.Keys?.claim_id?.S ?? record.claimId;
      return typeof id === 'string' ? [id] : [];
    }
    const message = JSON.parse(entry.payload) as { rows?: Array<{ claimId?: unknown }> };
    return (message.rows ?? []).flatMap((r) => (typeof r.claimId === 'string' ? [r.claimId] : []));
  } catch {
    return []; // an unreadable payload names no claim
  }
}

/** Quarantine ids by claim id, for the entries not re-driven yet. */
export function quarantineIdsByClaim(stateDir: string): Map<string, string[]> {
  const file = quarantineStorePath(stateDir);
  const byClaim = new Map<string, string[]>();
  if (!existsSync(file)) return byClaim;
  for (const entry of new QuarantineStore(file).entriesWithPayloads()) {
    if (entry.redriven) continue;
    for (const claimId of claimIdsOfPayload(entry)) byClaim.set(claimId, [...(byClaim.get(claimId) ?? []), entry.id]);
  }
  return byClaim;
}
