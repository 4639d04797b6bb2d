import type { VerifyResult } from './verify';
import type { RepairResult } from './verify-repair';

const list = (ids: readonly string[], max = 20): string => (ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} … and ${ids.length - max} more`);

/**
 * A verify result as lines for people: one ✓ line when everything matches, else one ✗ line per kind of difference,
 * naming claim ids and column names only (values are PHI).
 */
export function describeVerify(result: VerifyResult): string[] {
  const lines: string[] = [];
  const scope = `${result.items} item${result.items === 1 ? '' : 's'} in DynamoDB, ${result.destinationRows} row${result.destinationRows === 1 ? '' : 's'} in the destination, ${result.columns.length} columns compared`;
  if (result.ok) {
    lines.push(`✓ DynamoDB and the destination match row by row (${scope})`);
  } else {
    lines.push(`✗ DynamoDB and the destination differ (${scope}):`);
    if (result.missing.length > 0) lines.push(`✗ missing from the destination (${result.missing.length}): ${list(result.missing)}`);
    if (result.extra.length > 0) lines.push(`✗ in the destination but not in DynamoDB (${result.extra.length}): ${list(result.extra)}`);
    if (result.differing.length > 0) {
      lines.push(`✗ differing (${result.differing.length}):`);
      for (const row of result.differing.slice(0, 50)) lines.push(`    ${row.claimId}: ${row.columns.join(', ')}`);
      if (result.differing.length > 50) lines.push(`    … and ${result.differing.length - 50} more`);
    }
    if (result.duplicated.length > 0) lines.push(`✗ more than one destination row (${result.duplicated.length}): ${list(result.duplicated)}`);
    if (result.unprocessable.length > 0) {
      lines.push(`✗ items the pipeline cannot process, so they are quarantined (${result.unprocessable.length}):`);
      for (const item of result.unprocessable.slice(0, 20)) lines.push(`    ${item.claimId}: ${item.reason}${quarantineNote(item.quarantineIds)}`);
    }
  }
  if (result.fixedByRedrive.length > 0) {
    lines.push(
      `! re-driven from quarantine, the destination matches the fix, but the item in DynamoDB still cannot be processed (${result.fixedByRedrive.length}): fix it there too, or its next change is quarantined again:`,
    );
    for (const item of result.fixedByRedrive.slice(0, 20)) lines.push(`    ${item.claimId}: ${item.reason}`);
  }
  if (!result.settled) lines.push('  note: changes were still on their way through the pipeline when it compared; some differences may only be in flight');
  return lines;
}

const quarantineNote = (ids: readonly string[] | undefined): string =>
  ids === undefined ? '' : ids.length === 0 ? ' (no quarantine entry yet)' : ` (quarantine ${ids.join(', ')}: claims-cdc quarantine show ID)`;

/**
 * A repair as lines for people: what verify found, what was sent through the pipeline (claim ids only), then the
 * verify after the pipeline settled. Quarantined claims are listed by verify's own lines, not repaired.
 */
export function describeRepair(result: RepairResult): string[] {
  if (result.before.ok) return describeVerify(result.before);
  const { snapshots, deletes, rejected } = result.sent;
  const lines = ['before the repair:', ...describeVerify(result.before).map((l) => `  ${l}`)];
  lines.push(`repair: sent ${snapshots.length} snapshot${snapshots.length === 1 ? '' : 's'} and ${deletes.length} delete${deletes.length === 1 ? '' : 's'} through the pipeline`);
  if (snapshots.length > 0) lines.push(`  snapshots of the items as DynamoDB holds them now: ${list(snapshots)}`);
  if (deletes.length > 0) lines.push(`  deletes of claims DynamoDB no longer holds: ${list(deletes)}`);
  for (const r of rejected.slice(0, 20)) lines.push(`  ✗ quarantined, not repaired: ${r.claimId}: ${r.reason}`);
  lines.push('after the pipeline settled:', ...describeVerify(result.after));
  return lines;
}
