/**
 * Issue 9 reproductions through `claims-cdc replay`: one impossible date among ten records, a 38-digit number, and
 * Kinesis records as Lambda receives them (their own sequence numbers, up to 128 digits).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claim } from '@claims-cdc/shared';
import { changeRecord, claims, kinesisEvent, withStatus } from '@claims-cdc/shared/test-support/factories';
import { run } from '../src/cli/main';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const T = 1_732_000_000_000_000;
const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};
const dir = mkdtempSync(join(tmpdir(), 'claims-cdc-replay-real-'));
// The record files and warehouses hold claims (PHI in production): nothing stays in the temp dir.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, lines: readonly unknown[]): string => {
  const file = join(dir, name);
  writeFileSync(file, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return file;
};
const destination = async (db: string): Promise<Array<Record<string, unknown>>> => {
  const warehouse = await openTestWarehouse({ path: db });
  try {
    return await warehouse.query('SELECT claimId, claimStatus, rawImage FROM openflow_insclaim_dest_tbl ORDER BY claimId');
  } finally {
    await warehouse.close();
  }
};

describe('replay: records AWS really sends', () => {
  it('stages the 9 good records of 10 when one has 30 February, reports that line, exits 3', async () => {
    // Prepare
    const ten = claims(10, 41);
    const lines = ten.map((claim, i) => changeRecord({ eventName: 'INSERT', claim: i === 6 ? { ...claim, created_timestamp: '2024-02-30T10:00:00.000000Z' } : claim, micros: T + i }));
    const file = write('ten.jsonl', lines);
    const db = join(dir, 'ten.duckdb');
    const replay = capture();
    // Act
    const code = await run(['replay', file, '--db', db, '--json'], replay.io);
    // Assess
    expect(code).toBe(3);
    expect(replay.err).toEqual([expect.stringMatching(/^line 7: claim-schema: .*created_timestamp/)]);
    expect(replay.err.join('\n')).not.toContain('2024-02-30');
    expect((await destination(db)).map((r) => r.claimId)).toEqual(ten.filter((_c, i) => i !== 6).map((c) => c.claim_id).sort());
  });

  it('keeps a 38-digit number and exits 0 when nothing was rejected', async () => {
    // Prepare
    const [claim] = claims(1, 42) as [Claim];
    const record = changeRecord({ eventName: 'INSERT', claim, micros: T }) as { dynamodb: { NewImage: Record<string, unknown> } };
    record.dynamodb.NewImage.ledger_ref = { N: '12345678901234567890123456789012345678' };
    const db = join(dir, 'n38.duckdb');
    // Act
    const code = await run(['replay', write('n38.jsonl', [record]), '--db', db], capture().io);
    // Assess
    expect(code).toBe(0);
    const [row] = await destination(db);
    expect(String(row?.rawImage)).toContain('"ledger_ref":12345678901234567890123456789012345678');
  });

  it('replays Kinesis records as Lambda receives them, in the order of their own 128-digit sequence numbers', async () => {
    // Prepare: the newer MODIFY comes first in the file; only its sequence number says it is newer
    const [claim] = claims(1, 43) as [Claim];
    const [insert, modify] = kinesisEvent([changeRecord({ eventName: 'INSERT', claim, micros: T }), changeRecord({ eventName: 'MODIFY', claim: withStatus(claim, 'Paid'), micros: T })]).Records as unknown as [
      { kinesis: { sequenceNumber: string } },
      { kinesis: { sequenceNumber: string } },
    ];
    insert.kinesis.sequenceNumber = `${'9'.repeat(127)}1`;
    modify.kinesis.sequenceNumber = `${'9'.repeat(127)}2`;
    const db = join(dir, 'lambda.duckdb');
    // Act
    const code = await run(['replay', write('lambda.jsonl', [modify, insert]), '--db', db], capture().io);
    // Assess
    expect(code).toBe(0);
    expect((await destination(db)).map((r) => r.claimStatus)).toEqual(['Paid']);
  });
});
