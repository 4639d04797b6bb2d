/**
 * claims_summary_vw and pending_claims_vw on DuckDB: claims with hand-picked payers, plans, dates and charges are
 * staged and merged by the adapter; the expected rows are literals (sums and averages worked out by hand).
 */
import type { Claim, ClaimStatus, PaymentStatus } from '../src/domain/claim';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { VIEWS } from '../src/warehouse/views';
import { claims, row } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

const T = 1_732_000_000_000_000;
const S = 1_000_000;
const [base] = claims(1, 77) as [Claim];

interface Pick {
  readonly id: string;
  readonly status: ClaimStatus;
  readonly payment: PaymentStatus;
  readonly payer: 'Aetna' | 'Cigna';
  readonly plan: string;
  readonly service: string;
  readonly submitted: string;
  readonly charge: number;
}

const claim = (p: Pick): Claim => ({
  ...base,
  claim_id: p.id,
  claim_status: p.status,
  payment_status: p.payment,
  payer: { ...base.payer, name: p.payer, payer_id: p.payer === 'Aetna' ? '60054' : '62308' },
  insurance_plan: p.plan,
  date_of_service: p.service,
  bill_submit_date: p.submitted,
  total_charge: p.charge,
});

const PICKS: readonly Pick[] = [
  { id: 'CLM-00000001', status: 'Submitted', payment: 'Pending', payer: 'Aetna', plan: 'PPO Gold', service: '2024-03-02', submitted: '2024-03-09', charge: 100.1 },
  { id: 'CLM-00000002', status: 'Submitted', payment: 'Pending', payer: 'Aetna', plan: 'PPO Gold', service: '2024-03-30', submitted: '2024-04-02', charge: 200.3 },
  { id: 'CLM-00000003', status: 'Submitted', payment: 'Pending', payer: 'Aetna', plan: 'PPO Gold', service: '2024-04-01', submitted: '2024-04-03', charge: 50 },
  { id: 'CLM-00000004', status: 'Paid', payment: 'Paid', payer: 'Cigna', plan: 'HMO Silver', service: '2024-03-15', submitted: '2024-03-16', charge: 80 },
  { id: 'CLM-00000005', status: 'Rejected', payment: 'Denied', payer: 'Cigna', plan: 'HMO Silver', service: '2024-03-15', submitted: '2024-03-20', charge: 20 },
  { id: 'CLM-00000006', status: 'Approved', payment: 'Denied', payer: 'Cigna', plan: 'HMO Silver', service: '2024-03-15', submitted: '2024-03-01', charge: 20 },
  { id: 'CLM-00000007', status: 'In Review', payment: 'Processing', payer: 'Cigna', plan: 'HMO Silver', service: '2024-02-10', submitted: '2024-02-12', charge: 999.99 },
  { id: 'CLM-00000008', status: 'Approved', payment: 'Processing', payer: 'Aetna', plan: 'PPO Gold', service: '2024-03-05', submitted: '2024-03-09', charge: 10 },
];

let warehouse: DuckDbWarehouse;

beforeAll(async () => {
  warehouse = await openTestWarehouse({ path: ':memory:' });
  await warehouse.init();
  // Each claim inserted at T + i s; CLM-00000008 later moves from In Review to Approved (its last status change).
  await warehouse.stage(PICKS.map((p, i) => row({ eventName: 'INSERT', claim: i === 7 ? claim({ ...p, status: 'In Review' }) : claim(p), micros: T + i * S, eventId: `i${i}` })));
  await warehouse.merge();
  await warehouse.stage([row({ eventName: 'MODIFY', claim: claim(PICKS[7] as Pick), micros: T + 60 * S, eventId: 'm8' })]);
  await warehouse.merge();
});

afterAll(() => warehouse.close());

describe('claims_summary_vw', () => {
  it('counts, totals and averages the charges per status, payer, plan and month of service', async () => {
    // Act
    const rows = await warehouse.query(
      `SELECT claimStatus, paymentStatus, payerId, payerName, insurancePlan, CAST(serviceMonth AS VARCHAR) AS serviceMonth, claimCount, chargeTotal, chargeAverage ` +
        `FROM ${VIEWS.summary} ORDER BY payerName, serviceMonth, claimStatus, paymentStatus`,
    );
    // Assess
    expect(rows).toEqual([
      { claimStatus: 'Approved', paymentStatus: 'Processing', payerId: '60054', payerName: 'Aetna', insurancePlan: 'PPO Gold', serviceMonth: '2024-03-01', claimCount: 1, chargeTotal: 10, chargeAverage: 10 },
      { claimStatus: 'Submitted', paymentStatus: 'Pending', payerId: '60054', payerName: 'Aetna', insurancePlan: 'PPO Gold', serviceMonth: '2024-03-01', claimCount: 2, chargeTotal: 300.4, chargeAverage: 150.2 },
      { claimStatus: 'Submitted', paymentStatus: 'Pending', payerId: '60054', payerName: 'Aetna', insurancePlan: 'PPO Gold', serviceMonth: '2024-04-01', claimCount: 1, chargeTotal: 50, chargeAverage: 50 },
      { claimStatus: 'In Review', paymentStatus: 'Processing', payerId: '62308', payerName: 'Cigna', insurancePlan: 'HMO Silver', serviceMonth: '2024-02-01', claimCount: 1, chargeTotal: 999.99, chargeAverage: 999.99 },
      { claimStatus: 'Approved', paymentStatus: 'Denied', payerId: '62308', payerName: 'Cigna', insurancePlan: 'HMO Silver', serviceMonth: '2024-03-01', claimCount: 1, chargeTotal: 20, chargeAverage: 20 },
      { claimStatus: 'Paid', paymentStatus: 'Paid', payerId: '62308', payerName: 'Cigna', insurancePlan: 'HMO Silver', serviceMonth: '2024-03-01', claimCount: 1, chargeTotal: 80, chargeAverage: 80 },
      { claimStatus: 'Rejected', paymentStatus: 'Denied', payerId: '62308', payerName: 'Cigna', insurancePlan: 'HMO Silver', serviceMonth: '2024-03-01', claimCount: 1, chargeTotal: 20, chargeAverage: 20 },
    ]);
  });
});

describe('pending_claims_vw', () => {
  it('lists the claims not Paid, Rejected or Denied, oldest submission first, with the start of their current status', async () => {
    // Act
    const rows = await warehouse.query(`SELECT claimId, claimStatus, paymentStatus, CAST(submittedOn AS VARCHAR) AS submittedOn, CAST(statusSince AS VARCHAR) AS statusSince FROM ${VIEWS.pending}`);
    // Assess: 4 (Paid), 5 (Rejected) and 6 (Denied) are settled; 1 and 8 tie on submission, 1's status is older
    expect(rows).toEqual([
      { claimId: 'CLM-00000007', claimStatus: 'In Review', paymentStatus: 'Processing', submittedOn: '2024-02-12', statusSince: '2024-11-19 07:06:46' },
      { claimId: 'CLM-00000001', claimStatus: 'Submitted', paymentStatus: 'Pending', submittedOn: '2024-03-09', statusSince: '2024-11-19 07:06:40' },
      { claimId: 'CLM-00000008', claimStatus: 'Approved', paymentStatus: 'Processing', submittedOn: '2024-03-09', statusSince: '2024-11-19 07:07:40' },
      { claimId: 'CLM-00000002', claimStatus: 'Submitted', paymentStatus: 'Pending', submittedOn: '2024-04-02', statusSince: '2024-11-19 07:06:41' },
      { claimId: 'CLM-00000003', claimStatus: 'Submitted', paymentStatus: 'Pending', submittedOn: '2024-04-03', statusSince: '2024-11-19 07:06:42' },
    ]);
  });

  it('gives the ages against the UTC clock: whole days since submission, seconds since the status changed', async () => {
    // Prepare: the expected ages from the JavaScript clock, read around the query
    const before = Date.now();
    // Act
    const [oldest] = await warehouse.query(`SELECT daysSinceSubmission, secondsSinceStatusChange FROM ${VIEWS.pending} WHERE claimId = 'CLM-00000007'`);
    const after = Date.now();
    // Assess
    const days = (now: number) => Math.round((Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), new Date(now).getUTCDate()) - Date.UTC(2024, 1, 12)) / 86_400_000);
    const statusSinceMs = Date.UTC(2024, 10, 19, 7, 6, 46);
    expect([days(before), days(after)]).toContain(oldest?.daysSinceSubmission);
    expect(oldest?.secondsSinceStatusChange).toBeGreaterThanOrEqual(Math.floor((before - statusSinceMs) / 1000) - 1);
    expect(oldest?.secondsSinceStatusChange).toBeLessThanOrEqual(Math.ceil((after - statusSinceMs) / 1000) + 1);
  });
});
