/**
 * Writes claims straight into the DynamoDB emulator, behind the capture: no change record reaches the stream, as for
 * items written before a table's stream was turned on. What `backfill` is for; `generate N --untracked` uses it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteItemCommand, DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Claim } from '@claims-cdc/shared';
import { LOCAL_CREDENTIALS } from '../stack/aws-env';
import { type BackoffPolicy, backoffMs } from '../stack/backoff';

/** Some items stayed unprocessed after every retry. */
export class UntrackedWriteError extends Error {
  override readonly name = 'UntrackedWriteError';
}

const ATTEMPTS = 8;
const WRITE_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 3_200 };

/** A client of the emulator itself (never the capture's endpoint). */
export const uncapturedClient = (endpoint: string, region: string): DynamoDBClient => new DynamoDBClient({ endpoint, region, credentials: LOCAL_CREDENTIALS });

/** Writes claims 25 at a time (BatchWriteItem), unprocessed items retried with exponential backoff. */
export async function putUntracked(client: DynamoDBClient, tableName: string, claims: readonly Claim[]): Promise<void> {
  for (let start = 0; start < claims.length; start += 25) {
    let requests: WriteRequest[] = claims.slice(start, start + 25).map((claim) => ({ PutRequest: { Item: marshall(claim, { removeUndefinedValues: true }) } }));
    for (let attempt = 1; requests.length > 0; attempt += 1) {
      if (attempt > ATTEMPTS) throw new UntrackedWriteError(`${requests.length} claims still unprocessed after ${ATTEMPTS} attempts`);
      if (attempt > 1) await sleep(backoffMs(attempt - 1, WRITE_BACKOFF));
      const result = await client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      requests = result.UnprocessedItems?.[tableName] ?? [];
    }
  }
}
