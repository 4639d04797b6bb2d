/**
 * claim_status_history_vw on DuckDB (the stack's warehouse): rows are staged and merged by the adapter, the view is
 * read back, and every expected period is a literal worked out by hand from the events below, not from SQL.
 */
import type { Claim, ClaimStatus, PaymentStatus } from '../src/domain/claim';
import type { ClaimRow } from '../src/domain/columns';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { TABLES } from '../src/warehouse/tables';
import { VIEWS } from '../src/warehouse/views';
import { claims, row } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

/** 2024-11-19T07:06:40Z in microseconds. */
const T = 1_732_000_000_000_000;
const S = 1_000_000;

const [base] = claims(1, 131) as [Claim];
const A = 'CLM-0000000A';
const claimA = (claimStatus: ClaimStatus, paymentStatus: PaymentStatus): Claim => ({ ...base, claim_id: A, claim_status: claimStatus, payment_status: paymentStatus });

/** A staged row for claim A; `SNAPSHOT` is a backfill event carrying the full item (an upsert to the merge). */
const ev = (eventId: string, eventName: 'INSERT' | 'MODIFY' | 'REMOVE' | 'SNAPSHOT', micros: number, status: [ClaimStatus, PaymentStatus], seq = ''): ClaimRow => {
  const staged = row({ eventName: eventName === 'SNAPSHOT' ? 'MODIFY' : eventName, claim: claimA(...status), micros, eventId, seq });
  return eventName === 'SNAPSHOT' ? { ...staged, eventName: 'SNAPSHOT' } : staged;
};

/** A claim's life: unchanged statuses (e2, the snapshot e5) open no period; the REMOVE closes one; a re-INSERT opens a new one. */
const LIFE: readonly ClaimRow[] = [
  ev('e1', 'INSERT', T, ['Submitted', 'Pending']),
  ev('e2', 'MODIFY', T + 1 * S, ['Submitted', 'Pending']),
  ev('e3', 'MODIFY', T + 2 * S, ['In Review', 'Pending']),
  ev('e4', 'MODIFY', T + 3 * S, ['Approved', 'Processing']),
  ev('e5', 'SNAPSHOT', T + 4 * S, ['Approved', 'Processing']),
  ev('e6', 'MODIFY', T + 5 * S, ['Paid', 'Paid']),
  ev('e7', 'REMOVE', T + 6 * S, ['Paid', 'Paid']),
  ev('e8', 'REMOVE', T + 6 * S + 500, ['Paid', 'Paid']),
  ev('e9', 'INSERT', T + 7 * S, ['Submitted', 'Pending']),
];

const LIFE_PERIODS = [
  { claimStatus: 'Submitted', paymentStatus: 'Pending', validFromMicros: T, validToMicros: T + 2 * S, isCurrent: false, eventId: 'e1', eventName: 'INSERT', closedByEventId: 'e3', closedByEventName: 'MODIFY' },
  { claimStatus: 'In Review', paymentStatus: 'Pending', validFromMicros: T + 2 * S, validToMicros: T + 3 * S, isCurrent: false, eventId: 'e3', eventName: 'MODIFY', closedByEventId: 'e4', closedByEventName: 'MODIFY' },
  { claimStatus: 'Approved', paymentStatus: 'Processing', validFromMicros: T + 3 * S, validToMicros: T + 5 * S, isCurrent: false, eventId: 'e4', eventName: 'MODIFY', closedByEventId: 'e6', closedByEventName: 'MODIFY' },
  { claimStatus: 'Paid', paymentStatus: 'Paid', validFromMicros: T + 5 * S, validToMicros: T + 6 * S, isCurrent: false, eventId: 'e6', eventName: 'MODIFY', closedByEventId: 'e7', closedByEventName: 'REMOVE' },
  { claimStatus: 'Submitted', paymentStatus: 'Pending', validFromMicros: T + 7 * S, validToMicros: null, isCurrent: true, eventId: 'e9', eventName: 'INSERT', closedByEventId: null, closedByEventName: null },
];

const byId = (ids: readonly string[]): ClaimRow[] => ids.map((id) => LIFE.find((r) => r.eventId === id) as ClaimRow);

/** How the events reach the warehouse: batches staged in this order, with a merge after each. */
interface Delivery {
  readonly batches: readonly (readonly string[])[];
  /** Copies the whole history once more (a manual re-load on Snowflake, where no key stops it). */
  readonly historyTwice?: boolean;
}

const SCENARIOS: ReadonlyArray<[string, Delivery]> = [
  ['in order, one batch', { batches: [['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']] }],
  ['in order, one event per merge', { batches: [['e1'], ['e2'], ['e3'], ['e4'], ['e5'], ['e6'], ['e7'], ['e8'], ['e9']] }],
  ['reversed, one event per merge', { batches: [['e9'], ['e8'], ['e7'], ['e6'], ['e5'], ['e4'], ['e3'], ['e2'], ['e1']] }],
  ['shuffled over three merges, each event delivered twice', { batches: [['e6', 'e2', 'e9', 'e6'], ['e4', 'e1', 'e2', 'e8', 'e7'], ['e3', 'e5', 'e1', 'e9', 'e3', 'e7']] }],
  ['in order, the history table holding every event twice', { batches: [['e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7', 'e8', 'e9']], historyTwice: true }],
];

const PERIOD_COLUMNS = 'claimStatus, paymentStatus, validFromMicros, validToMicros, isCurrent, eventId, eventName, closedByEventId, closedByEventName';

const openWarehouse = async (): Promise<DuckDbWarehouse> => {
  const warehouse = await openTestWarehouse({ path: ':memory:' });
  await warehouse.init();
  return warehouse;
};

describe('claim_status_history_vw', () => {
  describe.each(SCENARIOS)('%s', (_name, delivery) => {
    it('gives the periods of the claim\'s life, each opened by the event that changed a status', async () => {
      // Prepare
      const warehouse = await openWarehouse();
      for (const batch of delivery.batches) {
        await warehouse.stage(byId(batch));
        await warehouse.merge();
      }
      if (delivery.historyTwice) await warehouse.query(`INSERT INTO ${TABLES.history} SELECT * FROM ${TABLES.history}`);
      // Act
      const periods = await warehouse.query(`SELECT ${PERIOD_COLUMNS} FROM ${VIEWS.statusHistory} WHERE claimId = '${A}' ORDER BY validFromMicros`);
      const destination = await warehouse.query(`SELECT claimStatus, eventId FROM ${TABLES.destination}`);
      const history = await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.history}`);
      await warehouse.close();
      // Assess
      expect(periods).toEqual(LIFE_PERIODS);
      expect(destination).toEqual([{ claimStatus: 'Submitted', eventId: 'e9' }]);
      expect(history).toEqual([{ n: delivery.historyTwice ? 18 : 9 }]);
    });
  });

  it('the quickstart flow (In Review -> Rejected -> removed): two periods, the last closed by the REMOVE; validFrom/To are the event times in UTC', async () => {
    // Prepare: the quickstart's claim goes from In Review to Rejected in DynamoDB's console, then is deleted
    const warehouse = await openWarehouse();
    const Q = 'CLM-00000Q01';
    const quick = (status: ClaimStatus, paymentStatus: PaymentStatus): Claim => ({ ...base, claim_id: Q, claim_status: status, payment_status: paymentStatus });
    await warehouse.stage([row({ eventName: 'INSERT', claim: quick('In Review', 'Processing'), micros: 1_732_000_000_123_456, eventId: 'q-insert' })]);
    await warehouse.merge();
    await warehouse.stage([row({ eventName: 'MODIFY', claim: quick('Rejected', 'Denied'), micros: 1_732_000_095_000_001, eventId: 'q-modify' })]);
    await warehouse.merge();
    await warehouse.stage([row({ eventName: 'REMOVE', claim: quick('Rejected', 'Denied'), micros: 1_732_000_180_654_321, eventId: 'q-remove' })]);
    await warehouse.merge();
    // Act
    const periods = await warehouse.query(
      `SELECT claimId, claimStatus, paymentStatus, CAST(validFrom AS VARCHAR) AS validFrom, CAST(validTo AS VARCHAR) AS validTo, isCurrent, eventId, eventName, closedByEventName ` +
        `FROM ${VIEWS.statusHistory} ORDER BY validFromMicros`,
    );
    const remaining = await warehouse.query(`SELECT COUNT(*) AS n FROM ${TABLES.destination}`);
    await warehouse.close();
    // Assess
    expect(periods).toEqual([
      { claimId: Q, claimStatus: 'In Review', paymentStatus: 'Processing', validFrom: '2024-11-19 07:06:40.123456', validTo: '2024-11-19 07:08:15.000001', isCurrent: false, eventId: 'q-insert', eventName: 'INSERT', closedByEventName: 'MODIFY' },
      { claimId: Q, claimStatus: 'Rejected', paymentStatus: 'Denied', validFrom: '2024-11-19 07:08:15.000001', validTo: '2024-11-19 07:09:40.654321', isCurrent: false, eventId: 'q-modify', eventName: 'MODIFY', closedByEventName: 'REMOVE' },
    ]);
    expect(remaining).toEqual([{ n: 0 }]);
  });

  it('orders events of one millisecond by sequence number, as the merge does, not by their microseconds', async () => {
    // Prepare: x carries the later microsecond but the earlier sequence number, so y (seq 300) is the newer change
    const warehouse = await openWarehouse();
    await warehouse.stage([
      ev('w', 'INSERT', T - 5 * S, ['Submitted', 'Pending'], '100'),
      ev('x', 'MODIFY', T + 900, ['In Review', 'Pending'], '200'),
      ev('y', 'MODIFY', T + 100, ['Approved', 'Pending'], '300'),
    ]);
    await warehouse.merge();
    // Act
    const periods = await warehouse.query(`SELECT claimStatus, eventId, closedByEventId, isCurrent FROM ${VIEWS.statusHistory} ORDER BY isCurrent, validFromMicros`);
    const destination = await warehouse.query(`SELECT claimStatus FROM ${TABLES.destination}`);
    await warehouse.close();
    // Assess
    expect(periods).toEqual([
      { claimStatus: 'Submitted', eventId: 'w', closedByEventId: 'x', isCurrent: false },
      { claimStatus: 'In Review', eventId: 'x', closedByEventId: 'y', isCurrent: false },
      { claimStatus: 'Approved', eventId: 'y', closedByEventId: null, isCurrent: true },
    ]);
    expect(destination).toEqual([{ claimStatus: 'Approved' }]);
  });

  it('a REMOVE of a claim it never saw opens and closes nothing; a SNAPSHOT as first event opens the first period', async () => {
    // Prepare
    const warehouse = await openWarehouse();
    await warehouse.stage([ev('r1', 'REMOVE', T, ['Paid', 'Paid']), ev('s1', 'SNAPSHOT', T + S, ['In Review', 'Pending']), ev('m1', 'MODIFY', T + 2 * S, ['In Review', 'Pending'])]);
    await warehouse.merge();
    // Act
    const periods = await warehouse.query(`SELECT ${PERIOD_COLUMNS} FROM ${VIEWS.statusHistory}`);
    await warehouse.close();
    // Assess
    expect(periods).toEqual([
      { claimStatus: 'In Review', paymentStatus: 'Pending', validFromMicros: T + S, validToMicros: null, isCurrent: true, eventId: 's1', eventName: 'SNAPSHOT', closedByEventId: null, closedByEventName: null },
    ]);
  });
});

describe('claim_adjudication_times_vw', () => {
  it('gives the first Submitted, the first decision and the first payment after it, in seconds, with the payer', async () => {
    // Prepare: claim A's life (Submitted at T, Approved at T+3s, Paid at T+5s), and a claim that was never Submitted
    const warehouse = await openWarehouse();
    const other = { ...base, claim_id: 'CLM-0000000B', claim_status: 'In Review' as const };
    await warehouse.stage([...LIFE, row({ eventName: 'INSERT', claim: other, micros: T, eventId: 'b1' })]);
    await warehouse.merge();
    // Act
    const rows = await warehouse.query(
      `SELECT claimId, payerId, payerName, CAST(submittedAt AS VARCHAR) AS submittedAt, CAST(decidedAt AS VARCHAR) AS decidedAt, decision, ` +
        `CAST(paidAt AS VARCHAR) AS paidAt, secondsToDecision, secondsToPaid FROM ${VIEWS.adjudicationTimes}`,
    );
    const p50 = await warehouse.query(`SELECT payerName, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY secondsToPaid) AS p50 FROM ${VIEWS.adjudicationTimes} GROUP BY payerName`);
    await warehouse.close();
    // Assess
    expect(rows).toEqual([
      {
        claimId: A,
        payerId: base.payer.payer_id,
        payerName: base.payer.name,
        submittedAt: '2024-11-19 07:06:40',
        decidedAt: '2024-11-19 07:06:43',
        decision: 'Approved',
        paidAt: '2024-11-19 07:06:45',
        secondsToDecision: 3,
        secondsToPaid: 5,
      },
    ]);
    expect(p50).toEqual([{ payerName: base.payer.name, p50: 5 }]);
  });
});
