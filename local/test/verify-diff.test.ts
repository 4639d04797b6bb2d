/**
 * The comparison behind `claims-cdc verify`, against a real DuckDB destination: values come back in the
 * warehouse's types (DOUBLE, BIGINT, TIMESTAMP as text), so the normalization is tested on what it really meets.
 */
import { type Claim, toChangeEvent, toClaimRow, type WireItem } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { claims, row, TABLE_NAME } from '@claims-cdc/shared/test-support/factories';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { canonical, COMPARED_COLUMNS, destinationQuery, diffRows } from '../src/inspect/verify-diff';
import { describeVerify } from '../src/inspect/verify-format';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const T = 1_732_000_000_000_000;

/** The item DynamoDB holds for a claim, in DynamoDB JSON. */
const item = (claim: Record<string, unknown>): WireItem =>
  buildChangeRecord({ eventName: 'INSERT', tableName: TABLE_NAME, keys: { claim_id: claim.claim_id }, newImage: claim, micros: T }).dynamodb.NewImage as WireItem;

const column = (name: string) => COMPARED_COLUMNS.find((c) => c.name === name)!;

describe('verify: DynamoDB items against destination rows', () => {
  let warehouse: DuckDbWarehouse;
  const five = claims(5, 21);
  const [first, second] = five as [Claim, Claim];
  const items = five.map((c) => item(c));

  beforeEach(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage(five.map((claim, i) => row({ eventName: 'INSERT', claim, micros: T + i })));
    await warehouse.merge();
  });
  afterEach(() => warehouse.close());

  const diff = async () => diffRows(items, await warehouse.query(destinationQuery()), TABLE_NAME);

  it('compares an item holding every DynamoDB type (a 38-digit N among them) without crashing (issue 9 §2)', async () => {
    // Prepare: the item as DynamoDB returns it, and the destination row the pipeline made of it
    const exotic = { ...(items[0] as WireItem), ledger_ref: { N: '12345678901234567890123456789012345678' }, tags: { SS: ['a'] }, blob: { B: 'AAEC' }, nothing: { NULL: true } } as WireItem;
    const record = { ...buildChangeRecord({ eventName: 'MODIFY', tableName: TABLE_NAME, keys: { claim_id: first.claim_id }, newImage: first, micros: T + 50 }) };
    record.dynamodb.NewImage = exotic;
    await warehouse.stage([toClaimRow(toChangeEvent(record, '9'))]);
    await warehouse.merge();
    // Act
    const report = diffRows([exotic, ...items.slice(1)], await warehouse.query(destinationQuery()), TABLE_NAME);
    // Assess
    expect(report).toMatchObject({ ok: true, missing: [], extra: [], differing: [], unprocessable: [] });
  });

  it('reports an item with an impossible calendar date as unprocessable, naming the field, and goes on', async () => {
    // Prepare
    const broken = { ...(items[1] as WireItem), created_timestamp: { S: '2024-02-30T10:00:00.000000Z' } } as WireItem;
    // Act
    const report = diffRows([items[0] as WireItem, broken, ...items.slice(2)], await warehouse.query(destinationQuery()), TABLE_NAME);
    // Assess
    expect(report.unprocessable).toEqual([{ claimId: second.claim_id, reason: expect.stringContaining('created_timestamp') }]);
    expect(JSON.stringify(report)).not.toContain('2024-02-30');
  });

  it('finds nothing when the pipeline merged every item: timestamps, doubles, integers and JSON survive the round trip', async () => {
    // Act
    const report = await diff();
    // Assess
    expect(report).toEqual({ ok: true, items: 5, destinationRows: 5, columns: COMPARED_COLUMNS.map((c) => c.name), missing: [], extra: [], differing: [], duplicated: [], unprocessable: [], fixedByRedrive: [] });
    expect(report.columns).toHaveLength(30);
  });

  describe.each([
    ['a timestamp one microsecond off', 'createdTimeStamp = createdTimeStamp + INTERVAL 1 MICROSECOND', ['createdTimeStamp']],
    ['a charge a tenth of a cent off', 'totalCharge = totalCharge + 0.001', ['totalCharge']],
    ['a zip code lost', 'patientZip = NULL', ['patientZip']],
    ['diagnosis codes replaced', "diagnosisCodes = '[\"Z99.9\"]'", ['diagnosisCodes']],
    ['two statuses changed', "claimStatus = 'Paid', paymentStatus = 'Paid'", ['claimStatus', 'paymentStatus']],
    ['an empty string for a missing value', "payerName = ''", ['payerName']],
  ])('with %s in one row', (_, assignment, columns) => {
    it('names that claim and exactly those columns', async () => {
      // Prepare
      await warehouse.query(`UPDATE openflow_insclaim_dest_tbl SET ${assignment} WHERE claimId = '${first.claim_id}'`);
      // Act
      const report = await diff();
      // Assess
      expect(report).toMatchObject({ ok: false, differing: [{ claimId: first.claim_id, columns }], missing: [], extra: [] });
    });
  });

  it('compares JSON-encoded columns by content: key order and spacing do not matter', async () => {
    // Prepare: the same procedure details, keys reversed and spaced.
    const respaced = JSON.stringify(first.procedure_details.map((p) => Object.fromEntries(Object.entries(p).reverse())), null, 2).replaceAll("'", "''");
    await warehouse.query(`UPDATE openflow_insclaim_dest_tbl SET procedureDetails = '${respaced}' WHERE claimId = '${first.claim_id}'`);
    // Act
    const report = await diff();
    // Assess
    expect(report.ok).toBe(true);
  });

  it('reports missing, extra and duplicated rows by claim id', async () => {
    // Prepare
    await warehouse.query(`DELETE FROM openflow_insclaim_dest_tbl WHERE claimId = '${first.claim_id}'`);
    await warehouse.query(`INSERT INTO openflow_insclaim_dest_tbl SELECT * FROM openflow_insclaim_dest_tbl WHERE claimId = '${second.claim_id}'`);
    await warehouse.query("INSERT INTO openflow_insclaim_dest_tbl (claimId) VALUES ('CLM-FFFFFFFF')");
    // Act
    const report = await diff();
    // Assess
    expect(report).toMatchObject({ ok: false, destinationRows: 6, missing: [first.claim_id], extra: ['CLM-FFFFFFFF'], duplicated: [second.claim_id], differing: [] });
  });

  it('describes drift for people with claim ids and column names only (the text `claims-cdc verify` prints)', async () => {
    // Prepare: edits behind the pipeline's back (the stack's own sql route refuses them)
    const [before] = await warehouse.query(`SELECT patientZip FROM openflow_insclaim_dest_tbl WHERE claimId = '${second.claim_id}'`);
    await warehouse.query(`UPDATE openflow_insclaim_dest_tbl SET claimStatus = claimStatus || ' (edited)', patientZip = patientZip + 1 WHERE claimId = '${second.claim_id}'`);
    await warehouse.query(`DELETE FROM openflow_insclaim_dest_tbl WHERE claimId = '${first.claim_id}'`);
    await warehouse.query("INSERT INTO openflow_insclaim_dest_tbl (claimId, claimStatus) VALUES ('CLM-FFFFFFFF', 'Paid')");
    // Act
    const text = describeVerify({ ...(await diff()), settled: true }).join('\n');
    // Assess
    expect(text).toContain(`✗ missing from the destination (1): ${first.claim_id}`);
    expect(text).toContain('✗ in the destination but not in DynamoDB (1): CLM-FFFFFFFF');
    expect(text).toContain(`    ${second.claim_id}: patientZip, claimStatus`);
    expect(text).not.toContain('(edited)');
    expect(text).not.toContain(String(before?.patientZip));
  });

  it('reports an item the pipeline would quarantine, with the schema reason and none of its values', async () => {
    // Prepare: an item written behind the API's back, with a status the claim schema does not know.
    const bad = { ...first, claim_status: 'Lost in the mail' };
    // Act
    const report = diffRows([item(bad), ...items.slice(1)], await warehouse.query(destinationQuery()), TABLE_NAME);
    // Assess
    expect(report.ok).toBe(false);
    expect(report.unprocessable).toEqual([{ claimId: first.claim_id, reason: expect.stringContaining('claim_status') }]);
    const reason = report.unprocessable[0]?.reason ?? '';
    for (const value of ['Lost in the mail', first.patient.last_name, first.member_id]) expect(reason).not.toContain(value);
  });
});

describe('canonical values', () => {
  it.each([
    ['createdTimeStamp', '2025-01-03T12:34:56.120000Z', '2025-01-03 12:34:56.12', true],
    ['createdTimeStamp', '2025-01-03T12:34:56.000000Z', '2025-01-03 12:34:56', true],
    ['createdTimeStamp', '2025-01-03T12:34:56.000001Z', '2025-01-03 12:34:56', false],
    ['totalCharge', 1.1, '1.10', true],
    ['totalCharge', 0.1 + 0.2, 0.3, false],
    ['patientZip', 2108, '2108', true],
    ['patientZip', 2108, '02108', true],
    ['patientZip', 2108, 2109, false],
    ['claimStatus', 'Paid', 'paid', false],
    ['claimStatus', null, '', false],
    ['diagnosisCodes', '["A","B"]', '[ "A", "B" ]', true],
    ['diagnosisCodes', '["A","B"]', '["B","A"]', false],
  ])('%s: %j vs %j → equal %s', (name, expected, actual, equal) => {
    // Act + Assess
    expect(canonical(column(name), expected) === canonical(column(name), actual)).toBe(equal);
  });
});
