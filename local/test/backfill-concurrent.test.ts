/**
 * Backfill of items the stream never saw (`generate --untracked`), while the application goes on writing the same
 * items through the capture — MODIFYs, REMOVEs, re-INSERTs of removed claims and new INSERTs. The destination
 * converges to DynamoDB (verify clean: nothing missing, nothing resurrected), and the history holds each snapshot once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteItemCommand, type DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { CLAIM_STATUSES, generateClaims } from '@claims-cdc/shared';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { BackfillStack } from './support/backfill-stack';

jest.setTimeout(600_000);

const TABLE = 'InsuranceClaims';

/**
 * The other writer: until stopped, picks an untracked claim and modifies it, removes it, or puts it back (a removed
 * one), and now and then inserts a new claim. Returns the claim ids it removed last (not put back).
 */
function startWriter(client: DynamoDBClient, claimIds: readonly string[], seed: number): { stop: () => Promise<{ removed: Set<string>; writes: number }> } {
  let running = true;
  const removed = new Set<string>();
  const fresh = generateClaims(200, seed);
  let writes = 0;
  let state = seed;
  const next = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const loop = (async () => {
    while (running) {
      const claimId = claimIds[next(claimIds.length)] as string;
      const dice = next(10);
      const key = marshall({ claim_id: claimId });
      if (removed.has(claimId)) {
        const [claim] = generateClaims(1, seed + writes);
        await client.send(new PutItemCommand({ TableName: TABLE, Item: marshall({ ...claim!, claim_id: claimId }, { removeUndefinedValues: true }) }));
        removed.delete(claimId);
      } else if (dice < 3) {
        await client.send(new DeleteItemCommand({ TableName: TABLE, Key: key }));
        removed.add(claimId);
      } else if (dice < 9) {
        await client.send(
          new UpdateItemCommand({ TableName: TABLE, Key: key, UpdateExpression: 'SET claim_status = :s', ExpressionAttributeValues: marshall({ ':s': CLAIM_STATUSES[next(CLAIM_STATUSES.length)] }) }),
        );
      } else if (fresh.length > 0) {
        await client.send(new PutItemCommand({ TableName: TABLE, Item: marshall(fresh.pop()!, { removeUndefinedValues: true }) }));
      }
      writes += 1;
      await sleep(5);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { removed, writes };
    },
  };
}

describe('backfill while the application writes the same items', () => {
  const stack = new BackfillStack();

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.stop().catch(() => undefined);
    stack.cleanup();
  });

  it('converges to DynamoDB: verify clean, each snapshot in the history once, nothing resurrected', async () => {
    // Prepare: items written before the "stream was turned on", and a few tracked ones.
    const untracked = await stack.cli('generate', '800', '--untracked', '--seed', '41', '--json');
    expect(untracked.code).toBe(0);
    const claimIds = (JSON.parse(untracked.out) as { claimIds: string[] }).claimIds;
    expect(await stack.cli('generate', '50', '--seed', '42')).toMatchObject({ code: 0 });
    const client = stack.capturedClient();

    // Act: the backfill, small pages in 4 segments within a small read budget (so it lasts), while the writer works on
    // the same claims.
    const writer = startWriter(client, claimIds, 43);
    const backfill = await stack.cli('backfill', '--segments', '4', '--page-size', '40', '--max-rcu', '15', '--json');
    const { removed, writes } = await writer.stop();
    client.destroy();
    const verify = await stack.cli('verify', '--json', '--settle', '60');

    // Assess
    expect(backfill).toMatchObject({ code: 0, err: '' });
    const summary = JSON.parse(backfill.out) as { read: number; sent: number; rejected: number; complete: boolean };
    expect(summary).toMatchObject({ complete: true, rejected: 0 });
    expect(summary.sent).toBe(summary.read);
    expect(writes).toBeGreaterThan(20);
    expect(removed.size).toBeGreaterThan(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, missing: [], extra: [], differing: [], duplicated: [] });
    expect(verify.code).toBe(0);
    // Each snapshot once in the history (one read per item), and as many as the backfill sent.
    expect(await stack.sql(`SELECT claimId, COUNT(*) AS n FROM ${TABLES.history} WHERE eventName = 'SNAPSHOT' GROUP BY claimId HAVING COUNT(*) > 1`)).toEqual([]);
    expect(await stack.sql(`SELECT COUNT(*) AS n FROM ${TABLES.history} WHERE eventName = 'SNAPSHOT'`)).toEqual([{ n: summary.sent }]);
    // Nothing resurrected: no claim the writer left removed is in the destination.
    const resurrected = await stack.sql<{ claimId: string }>(`SELECT claimId FROM ${TABLES.destination} WHERE claimId IN (${[...removed].map((id) => `'${id}'`).join(', ')})`);
    expect(resurrected).toEqual([]);
  });
});
