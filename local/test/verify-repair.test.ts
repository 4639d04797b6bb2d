/**
 * `verify --repair` on a destination changed behind the pipeline's back (the warehouse file edited while the stack was
 * stopped): a row deleted, a row changed and a row added. Every difference is repaired through the pipeline (snapshots
 * of the items, a delete for the row DynamoDB never had) and verify is clean; a claim the pipeline cannot process is
 * reported with its quarantine id and not repaired.
 */
import path from 'node:path';
import { PutItemCommand, DeleteItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { claims } from '@claims-cdc/shared/test-support/factories';
import type { VerifyResult } from '../src/inspect/verify';
import type { RepairResult } from '../src/inspect/verify-repair';
import { BackfillStack } from './support/backfill-stack';
import { waitUntil } from './support/wait';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

jest.setTimeout(600_000);

const EXTRA = 'CLM-0E0E0E0E';
const BAD = 'CLM-0BAD0BAD';

describe('verify --repair', () => {
  const stack = new BackfillStack();
  let claimIds: string[] = [];

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.stop().catch(() => undefined);
    stack.cleanup();
  });

  it('repairs a missing, an extra and a changed row through the pipeline; the quarantined claim is reported apart', async () => {
    // Prepare: 12 claims through the pipeline, and an item it cannot process (quarantined).
    const generated = await stack.cli('generate', '12', '--seed', '61', '--json');
    claimIds = [...(JSON.parse(generated.out) as { claimIds: string[] }).claimIds].sort();
    const client = stack.capturedClient();
    const bad = { ...claims(1, 62)[0]!, claim_id: BAD, claim_status: 'Lost in the mail' };
    const image = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: BAD }, newImage: bad, micros: Date.now() * 1000 }).dynamodb.NewImage;
    await client.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: image as unknown as Record<string, AttributeValue> }));
    client.destroy();
    await waitUntil(async () => {
      const s = await stack.status();
      return s.destination === 12 && s.quarantined === 1 && s.staged === 0;
    }, 'the claims in the destination and the bad one quarantined', 120_000);
    // ... then the destination edited behind the pipeline's back, the stack stopped (DuckDB has one writer).
    const [gone, changed, template] = claimIds as [string, string, string];
    await stack.stop();
    const warehouse = await openTestWarehouse({ path: path.join(stack.stateDir, 'warehouse.duckdb') });
    await warehouse.query(`DELETE FROM ${TABLES.destination} WHERE claimId = '${gone}'`);
    await warehouse.query(`UPDATE ${TABLES.destination} SET claimStatus = 'Paid', totalCharge = totalCharge + 1 WHERE claimId = '${changed}'`);
    await warehouse.query(`INSERT INTO ${TABLES.destination} SELECT * REPLACE ('${EXTRA}' AS claimId) FROM ${TABLES.destination} WHERE claimId = '${template}'`);
    await warehouse.close();
    await stack.start();

    // Act
    const drifted = await stack.cli('verify', '--json');
    const repair = await stack.cli('verify', '--repair', '--json', '--settle', '60');
    const text = await stack.cli('verify', '--repair');

    // Assess: verify saw the drift...
    const before = JSON.parse(drifted.out) as VerifyResult;
    expect(before).toMatchObject({ ok: false, missing: [gone], extra: [EXTRA], differing: [{ claimId: changed, columns: expect.arrayContaining(['totalCharge']) }] });
    expect(before.unprocessable).toEqual([{ claimId: BAD, reason: expect.stringContaining('claim_status'), quarantineIds: [expect.any(String)] }]);
    // ...the repair sent snapshots of the two items and a delete of the extra row, and the second verify found them repaired.
    const repaired = JSON.parse(repair.out) as RepairResult;
    expect(repaired.sent).toEqual({ snapshots: [changed, gone].sort(), deletes: [EXTRA], rejected: [] });
    expect(repaired.after).toMatchObject({ missing: [], extra: [], differing: [], duplicated: [], items: 13, destinationRows: 12 });
    expect(repaired.after.unprocessable).toEqual(before.unprocessable);
    // The quarantined claim still makes verify fail: it is reported (with its quarantine id), never "repaired".
    expect(repair.code).toBe(1);
    expect(text.out).toMatch(new RegExp(`${BAD}: .*claim_status.*\\(quarantine ${before.unprocessable[0]!.quarantineIds![0]}`));
    expect(text.out).not.toContain('Lost in the mail');
    // The repairs went through the pipeline: their rows are in the history.
    expect(await stack.sql(`SELECT claimId, eventName FROM ${TABLES.history} WHERE eventId LIKE 'snapshot-%' ORDER BY claimId`)).toEqual(
      [{ claimId: EXTRA, eventName: 'REMOVE' }, ...[changed, gone].sort().map((claimId) => ({ claimId, eventName: 'SNAPSHOT' }))].sort((a, b) => a.claimId.localeCompare(b.claimId)),
    );

    // Act 2: the application deletes the item it cannot process; verify is clean.
    const restarted = stack.capturedClient();
    await restarted.send(new DeleteItemCommand({ TableName: 'InsuranceClaims', Key: { claim_id: { S: BAD } } }));
    restarted.destroy();
    const clean = await stack.cli('verify', '--settle', '60');
    // Assess
    expect(clean).toMatchObject({ code: 0, out: expect.stringMatching(/^✓ DynamoDB and the destination match row by row \(12 items/) });
  });
});
