/**
 * The Kinesis partition key of a change record, as the local stand-in for DynamoDB's streaming destination assigns
 * it: an MD5 hash (upper-case hex) of the table name and the item's canonical key (attribute names sorted), never the
 * key itself, which may mean something to whoever reads the stream's metadata.
 *
 * Every local writer of change records (the capture, the quarantine re-drive, chaos, the benchmark) uses this one
 * function, so a claim's records always land on the same shard, in order, whoever put them.
 */
import { createHash } from 'node:crypto';
import { canonicalKey, type WireItem } from './dynamodb-wire';

/** The lock / identity string of one item: table name, NUL, canonical key. */
export function itemIdentity(table: string, key: WireItem): string {
  return `${table}\u0000${canonicalKey(key)}`;
}

/** The partition key for an item identity made by `itemIdentity`. */
export function partitionKeyOfIdentity(identity: string): string {
  return createHash('md5').update(identity).digest('hex').toUpperCase();
}

/** The partition key of a change to the item with wire-format key `key` in `table`. */
export function changePartitionKey(table: string, key: WireItem): string {
  return partitionKeyOfIdentity(itemIdentity(table, key));
}

/** The partition key of a change to the claim `claimId` (a table keyed by the string attribute `claim_id`). */
export function claimPartitionKey(table: string, claimId: string): string {
  return changePartitionKey(table, { claim_id: { S: claimId } });
}
