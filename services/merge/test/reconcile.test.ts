import { DynamoDBClient, GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type Claim, type ClaimRow, PAYMENT_STATUSES, readRowMessage, type WireItem } from '@claims-cdc/shared';
import { DEFAULT_SKEW_MARGIN_MS } from '@claims-cdc/shared/domain/snapshot';
import { metrics } from '@claims-cdc/shared/observability/metrics';
import { claims, row, sdkItem, wire } from '@claims-cdc/shared/test-support/factories';
import { phiFinder, phiValues } from '@claims-cdc/shared/test-support/phi';
import { DIALECTS } from '@claims-cdc/shared/warehouse/dialect';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { mockClient } from 'aws-sdk-client-mock';
import { reconcile as reconcileHandler } from '../src/handlers/reconcile';
import { reconcile, type ReconcileDeps, type ReconcileRequest } from '../src/reconcile/reconcile';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const ddb = mockClient(DynamoDBClient);
const sqs = mockClient(SQSClient);
const T = 1_732_000_000_000_000;
const NOW = 1_733_000_000_000;
const TABLE = 'InsuranceClaims';
const REQUEST: ReconcileRequest = { repair: false, segments: 2, reportLimit: 100, maxRepairs: 100, marginMs: DEFAULT_SKEW_MARGIN_MS };

/**
 * The scenario: a and b in both (b changed in the destination behind the pipeline's back: two PHI columns and one
 * other), c only in DynamoDB (missing), e only in the destination (extra), d in DynamoDB but unprocessable (a gender
 * the schema refuses), f in DynamoDB with its INSERT staged and not merged yet (in flight).
 */
const [a, b, c, d, e, f] = claims(6, 21) as [Claim, Claim, Claim, Claim, Claim, Claim];
/** A payment status b does not have (what the destination is changed to behind the pipeline's back). */
const otherStatus = (): string => PAYMENT_STATUSES.find((status) => status !== b.payment_status) as string;
const badD = { ...d, patient: { ...d.patient, gender: 'X' } } as unknown as Claim;
const itemsInTable = (): Map<string, WireItem> => new Map([a, b, c, badD, f].map((claim) => [claim.claim_id, wire(claim)]));

/** DynamoDB: segment 0 holds a, b (first page) and c (second page); segment 1 holds d and f. */
const fakeTable = (items: Map<string, WireItem>): void => {
  ddb.reset();
  const segments = [[[a, b], [c]], [[badD, f]]].map((pages) => pages.map((page) => page.map((claim) => claim.claim_id)));
  ddb.on(ScanCommand).callsFake((input: { Segment: number; TotalSegments: number; ExclusiveStartKey?: { claim_id: { S: string } } }) => {
    // Segments beyond the two that hold items are empty (the handler's default asks for more).
    const pages = input.Segment < 2 && input.TotalSegments >= 2 ? (segments[input.Segment] as string[][]) : [[]];
    const index = input.ExclusiveStartKey === undefined ? 0 : pages.findIndex((p) => p[0] === input.ExclusiveStartKey?.claim_id.S);
    const next = pages[index + 1];
    return { Items: (pages[index] as string[]).flatMap((id) => (items.has(id) ? [items.get(id)] : [])), ...(next ? { LastEvaluatedKey: { claim_id: { S: next[0] } } } : {}) };
  });
  ddb.on(GetItemCommand).callsFake((input: { Key: { claim_id: { S: string } }; ConsistentRead: boolean }) => {
    if (!input.ConsistentRead) throw new Error('expected a consistent read');
    const item = items.get(input.Key.claim_id.S);
    return item ? { Item: item } : {};
  });
};

const sentBodies = (): string[] => sqs.commandCalls(SendMessageBatchCommand).flatMap((call) => (call.args[0].input.Entries ?? []).map((entry) => entry.MessageBody as string));
const sentRows = (): ClaimRow[] => sentBodies().flatMap((body) => readRowMessage(body).rows);

/** The destination of the scenario, on `warehouse`. */
async function prepareDestination(warehouse: Warehouse): Promise<void> {
  await warehouse.stage([a, b, e].map((claim, i) => row({ eventName: 'INSERT', claim, micros: T + i, eventId: `r${i}` })));
  await warehouse.merge();
  await warehouse.query(`UPDATE ${TABLES.destination} SET patientFirstName = 'Changed', patientPhone = '555-0100', paymentStatus = '${otherStatus()}' WHERE claimId = '${b.claim_id}'`);
  await warehouse.stage([row({ eventName: 'INSERT', claim: f, micros: T + 10, eventId: 'r-f' })]);
}

describe('reconcile (domain): DynamoDB scan against a DuckDB destination', () => {
  let warehouse: DuckDbWarehouse;
  let deps: ReconcileDeps;

  beforeEach(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    await prepareDestination(warehouse);
    fakeTable(itemsInTable());
    sqs.reset();
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((x) => ({ Id: x.Id })), Failed: [] }));
    deps = { dynamodb: new DynamoDBClient({}), sqs: new SQSClient({}), warehouse, dialect: DIALECTS.duckdb, tableName: TABLE, loadQueueUrl: 'https://sqs.test/123/load', now: () => NOW };
  });
  afterEach(async () => warehouse.close());

  it('counts missing, extra and differing claims, names the differing columns, and keeps quarantined and in-flight claims apart', async () => {
    // Act
    const report = await reconcile(deps, REQUEST);
    // Assess
    expect(report.counts).toEqual({ items: 5, destinationRows: 3, missing: 1, extra: 1, differing: 1, duplicated: 0, quarantined: 1, inFlight: 1, drifted: 3, repairRowsSent: 0 });
    expect(report.missing).toEqual([c.claim_id]);
    expect(report.extra).toEqual([e.claim_id]);
    expect(report.differing).toEqual([{ claimId: b.claim_id, columns: ['patientPhone', 'patientFirstName', 'paymentStatus'] }]);
    expect(report.quarantined).toEqual([{ claimId: d.claim_id, reason: expect.stringContaining('patient.gender') }]);
    expect(report.inFlight).toEqual([f.claim_id]);
    expect(report.repair).toBeNull();
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    // A parallel, consistent Scan of both segments, to the end of each
    const scans = ddb.commandCalls(ScanCommand).map((call) => call.args[0].input);
    expect(scans.map((i) => [i.Segment, i.TotalSegments, i.ConsistentRead, i.ExclusiveStartKey?.claim_id?.S ?? null])).toEqual([
      [0, 2, true, null],
      [1, 2, true, null],
      [0, 2, true, c.claim_id],
    ]);
  });

  it('reports claim ids and column names, never a value', async () => {
    // Prepare: the PHI of every claim of the scenario, and of b's item as the destination holds it now
    const find = phiFinder(phiValues([a, b, c, d, e, f]));
    // Act
    const report = await reconcile(deps, { ...REQUEST, repair: true });
    // Assess
    const text = JSON.stringify(report);
    expect(find(text)).toEqual([]);
    expect(text).not.toContain('Changed');
    expect(text).not.toContain('555-0100');
    expect(text).not.toContain(b.payer.name);
  });

  it('with repair, sends snapshot rows for the missing and differing claims and a delete for the extra one, at the version of the re-read', async () => {
    // Act
    const report = await reconcile(deps, { ...REQUEST, repair: true });
    // Assess: what reached the load queue
    const rows = sentRows();
    expect(rows.map((r) => [r.claimId, r.eventName]).sort()).toEqual(
      [
        [b.claim_id, 'SNAPSHOT'],
        [c.claim_id, 'SNAPSHOT'],
        [e.claim_id, 'REMOVE'],
      ].sort(),
    );
    expect(new Set(rows.map((r) => r.eventCreationUnixTime))).toEqual(new Set([String((NOW - 1_000) * 1000)]));
    expect(rows.find((r) => r.claimId === b.claim_id)).toMatchObject({ patientFirstName: b.patient.first_name, patientPhone: b.patient.phone, paymentStatus: b.payment_status });
    expect(report.repair).toEqual({ snapshots: [b.claim_id, c.claim_id].sort(), deletes: [e.claim_id], skipped: 0 });
    expect(report.counts.repairRowsSent).toBe(3);
  });

  it('after the repair rows are loaded and merged (and the in-flight change too), a second run finds no drift', async () => {
    // Prepare: the pipeline's load and merge of what the repair sent
    await reconcile(deps, { ...REQUEST, repair: true });
    await warehouse.stage(sentRows());
    await warehouse.merge();
    sqs.resetHistory();
    // Act
    const report = await reconcile(deps, { ...REQUEST, repair: true });
    // Assess: only the unprocessable item remains, reported as such and never sent
    expect(report.counts).toMatchObject({ missing: 0, extra: 0, differing: 0, inFlight: 0, quarantined: 1, drifted: 0, repairRowsSent: 0 });
    expect(sentBodies()).toEqual([]);
  });

  it('a claim changed in DynamoDB after the Scan read it, to what the destination holds, has converged: not reported, not repaired', async () => {
    // Prepare: the Scan sees b as the application wrote it; the consistent re-read sees it as the destination holds it
    const items = itemsInTable();
    fakeTable(items);
    const changed = { ...b, payment_status: otherStatus(), patient: { ...b.patient, first_name: 'Changed' } } as Record<string, unknown>;
    (changed.patient as Record<string, unknown>).phone = '555-0100';
    ddb.on(GetItemCommand, { Key: { claim_id: { S: b.claim_id } } }).resolves({ Item: sdkItem(changed) });
    // Act
    const report = await reconcile(deps, { ...REQUEST, repair: true });
    // Assess
    expect(report.differing).toEqual([]);
    expect(report.converged).toEqual([b.claim_id]);
    expect(sentRows().map((r) => r.claimId)).not.toContain(b.claim_id);
  });

  it('beyond maxRepairs, claims are counted and listed but not read again or repaired', async () => {
    // Act
    const report = await reconcile(deps, { ...REQUEST, repair: true, maxRepairs: 1 });
    // Assess: suspects are examined in the order missing, differing, extra
    expect(report.counts).toMatchObject({ missing: 1, extra: 1, differing: 1, repairRowsSent: 1 });
    expect(report.differing).toEqual([{ claimId: b.claim_id, columns: [] }]);
    expect(report.repair).toEqual({ snapshots: [c.claim_id], deletes: [], skipped: 2 });
    expect(report.truncated).toBe(true);
  });
});

describe('reconcile handler', () => {
  beforeEach(() => {
    fakeTable(itemsInTable());
    sqs.reset();
    sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({ Successful: input.Entries.map((x) => ({ Id: x.Id })), Failed: [] }));
  });

  it('a scheduled run (an EventBridge event) compares without repairing and publishes the counts as metrics', async () => {
    // Prepare: the handler's warehouse is the process's (DUCKDB_PATH=:memory:)
    const warehouse = warehouseFromEnv();
    await warehouse.init();
    await prepareDestination(warehouse);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    // Act
    const report = await reconcileHandler({ version: '0', 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
    // Assess
    expect(report.counts).toMatchObject({ missing: 1, extra: 1, differing: 1, quarantined: 1, inFlight: 1, drifted: 3 });
    const published = Object.fromEntries(addMetric.mock.calls.map(([name, , value]) => [name, value]));
    expect(published).toEqual({
      ReconcileMissing: 1,
      ReconcileExtra: 1,
      ReconcileDiffering: 1,
      ReconcileDrifted: 3,
      ReconcileDuplicated: 0,
      ReconcileQuarantined: 1,
      ReconcileInFlight: 1,
      ReconcileRepairRowsSent: 0,
    });
    expect(sqs.commandCalls(SendMessageBatchCommand)).toHaveLength(0);
    addMetric.mockRestore();
  });

  it('refuses an on-demand event it cannot read, naming the field', async () => {
    // Act / Assess
    await expect(reconcileHandler({ repair: 'yes' })).rejects.toThrow(/repair/);
    await expect(reconcileHandler({ segments: 0 })).rejects.toThrow(/segments/);
  });
});
