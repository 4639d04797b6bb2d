import type { VerifyResult } from './verify';

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
      for (const item of result.unprocessable.slice(0, 20)) lines.push(`    ${item.claimId}: ${item.reason}`);
    }
  }
  if (!result.settled) lines.push('  note: changes were still on their way through the pipeline when it compared; some differences may only be in flight');
  return lines;
}
