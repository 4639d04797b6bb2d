import type { Dialect } from './dialect';
import { TABLES } from './tables';

/**
 * The analyst and auditor views over the claims (issue 13), as SQL text for either dialect. Names are in
 * `views.ts` ({@link CLAIM_VIEWS}); `createViews` there creates them after the quickstart views they build on.
 * None of them selects a PHI column: they read through the tables' masking policies all the same.
 */

/** The names of the claim views (each documented where its SQL is built). */
export const CLAIM_VIEWS = {
  statusHistory: 'claim_status_history_vw',
  summary: 'claims_summary_vw',
  pending: 'pending_claims_vw',
  adjudicationTimes: 'claim_adjudication_times_vw',
} as const;

/** Claim statuses after which a claim waits for nobody (with {@link SETTLED_PAYMENT_STATUSES}). */
export const SETTLED_CLAIM_STATUSES = ['Paid', 'Rejected'] as const;
/** Payment statuses after which a claim waits for nobody. */
export const SETTLED_PAYMENT_STATUSES = ['Paid', 'Denied'] as const;
/** The claim statuses that decide a submitted claim. */
export const DECISION_STATUSES = ['Approved', 'Rejected'] as const;

const list = (values: readonly string[]): string => values.map((v) => `'${v}'`).join(', ');

/**
 * An `eventCreationUnixTime` (microseconds since the epoch, as text) as a zone-less UTC timestamp with its
 * microseconds. Dialect-specific, kept here rather than in dialect.ts only because that file is being reworked
 * in parallel; it belongs next to `Dialect.timestamp` and can move there unchanged.
 */
export const microsToTimestamp = (dialect: Dialect, micros: string): string =>
  dialect.name === 'snowflake' ? `TO_TIMESTAMP_NTZ(${micros}, 6)` : `make_timestamp(${micros})`;

/** One window over a claim's events in the merge's order (version key, then event id). */
const inMergeOrder = (alias: string): string => `OVER (PARTITION BY ${alias}.claimId ORDER BY ${alias}.versionKey, ${alias}.eventId)`;

/**
 * `claim_status_history_vw`: the SCD type-2 history of each claim's (claimStatus, paymentStatus), built from the event
 * history table without dbt. One row per period in which a pair held:
 * - events are read once each (deduplicated on eventId, whatever history holds) and ordered as the merge orders
 *   them (`Dialect.versionKey`, then eventId), so late and duplicated deliveries give the same periods;
 * - an upsert (INSERT, MODIFY, or a backfill SNAPSHOT: anything but REMOVE, as the merge treats them) opens a
 *   period when it is the claim's first event, follows a REMOVE, or changes either status; otherwise it extends
 *   the open period;
 * - a REMOVE closes the open period (validTo is the REMOVE's time, closedByEventName 'REMOVE') and opens none;
 *   a REMOVE with no open period (a second REMOVE, or the first event of the claim) changes nothing;
 * - validFrom/validTo are event times (`eventCreationUnixTime`, DynamoDB's ApproximateCreationDateTime, µs) as
 *   UTC timestamps, with the exact microseconds in validFromMicros/validToMicros; validTo is the time of the
 *   event that closed the period and NULL while the period is current (isCurrent).
 */
const statusHistory = (dialect: Dialect): string =>
  `CREATE OR REPLACE VIEW ${CLAIM_VIEWS.statusHistory}${dialect.copyGrants()} AS ` +
  `WITH events AS (SELECT h.claimId, h.eventId, h.eventName, h.claimStatus, h.paymentStatus, ` +
  `CAST(h.eventCreationUnixTime AS BIGINT) AS eventMicros, ${dialect.versionKey('h')} AS versionKey FROM ${TABLES.history} h ` +
  `QUALIFY ROW_NUMBER() OVER (PARTITION BY h.eventId ORDER BY h.loadedAt, h.claimId) = 1), ` +
  `steps AS (SELECT e.*, LAG(e.eventName) ${inMergeOrder('e')} AS prevEventName, ` +
  `LAG(e.claimStatus) ${inMergeOrder('e')} AS prevClaimStatus, LAG(e.paymentStatus) ${inMergeOrder('e')} AS prevPaymentStatus FROM events e), ` +
  // Window functions run after WHERE: LEAD sees only the events that open or close a period.
  `boundaries AS (SELECT s.*, LEAD(s.eventMicros) ${inMergeOrder('s')} AS nextMicros, ` +
  `LEAD(s.eventId) ${inMergeOrder('s')} AS nextEventId, LEAD(s.eventName) ${inMergeOrder('s')} AS nextEventName FROM steps s ` +
  `WHERE (s.eventName <> 'REMOVE' AND (s.prevEventName IS NULL OR s.prevEventName = 'REMOVE' ` +
  `OR s.claimStatus IS DISTINCT FROM s.prevClaimStatus OR s.paymentStatus IS DISTINCT FROM s.prevPaymentStatus)) ` +
  `OR (s.eventName = 'REMOVE' AND s.prevEventName IS NOT NULL AND s.prevEventName <> 'REMOVE')) ` +
  `SELECT claimId, claimStatus, paymentStatus, ${microsToTimestamp(dialect, 'eventMicros')} AS validFrom, ` +
  `${microsToTimestamp(dialect, 'nextMicros')} AS validTo, (nextEventId IS NULL) AS isCurrent, eventId, eventName, ` +
  `nextEventId AS closedByEventId, nextEventName AS closedByEventName, eventMicros AS validFromMicros, nextMicros AS validToMicros ` +
  `FROM boundaries WHERE eventName <> 'REMOVE'`;

/**
 * `claims_summary_vw`: the destination (claims as they are now) by claimStatus, paymentStatus, payer (id and name),
 * insurance plan and month of service (first day of `dateOfService`'s month; NULL when it is not a date):
 * claimCount, chargeTotal and chargeAverage (of `totalCharge`, rounded to cents).
 */
const summary = (dialect: Dialect): string =>
  `CREATE OR REPLACE VIEW ${CLAIM_VIEWS.summary}${dialect.copyGrants()} AS ` +
  `SELECT claimStatus, paymentStatus, payerId, payerName, insurancePlan, ` +
  `CAST(DATE_TRUNC('month', TRY_CAST(dateOfService AS DATE)) AS DATE) AS serviceMonth, ` +
  `COUNT(*) AS claimCount, ROUND(SUM(totalCharge), 2) AS chargeTotal, ROUND(AVG(totalCharge), 2) AS chargeAverage ` +
  `FROM ${TABLES.destination} GROUP BY 1, 2, 3, 4, 5, 6`;

/**
 * `pending_claims_vw`: destination claims whose claimStatus is not Paid or Rejected and whose paymentStatus is not
 * Paid or Denied (a missing status counts as pending), oldest submission first. Submission is the claim's
 * `billSubmitDate` (submittedOn, daysSinceSubmission to today in UTC); the last status change is the start of the
 * claim's current period in {@link CLAIM_VIEWS.statusHistory} (statusSince, secondsSinceStatusChange; NULL while
 * its REMOVE waits in staging). The history holds events the next merge has not applied yet, so for a few
 * seconds statusSince may be newer than the destination's statuses.
 */
const pending = (dialect: Dialect): string =>
  `CREATE OR REPLACE VIEW ${CLAIM_VIEWS.pending}${dialect.copyGrants()} AS ` +
  `SELECT d.claimId, d.claimStatus, d.paymentStatus, d.payerId, d.payerName, d.insurancePlan, d.totalCharge, ` +
  `TRY_CAST(d.billSubmitDate AS DATE) AS submittedOn, ` +
  `DATEDIFF('day', TRY_CAST(d.billSubmitDate AS DATE), CAST(${dialect.utcNow()} AS DATE)) AS daysSinceSubmission, ` +
  `p.validFrom AS statusSince, DATEDIFF('second', p.validFrom, ${dialect.utcNow()}) AS secondsSinceStatusChange ` +
  `FROM ${TABLES.destination} d LEFT JOIN ${CLAIM_VIEWS.statusHistory} p ON p.claimId = d.claimId AND p.isCurrent ` +
  `WHERE COALESCE(d.claimStatus, '') NOT IN (${list(SETTLED_CLAIM_STATUSES)}) AND COALESCE(d.paymentStatus, '') NOT IN (${list(SETTLED_PAYMENT_STATUSES)}) ` +
  `ORDER BY submittedOn NULLS LAST, statusSince NULLS LAST, d.claimId`;

/**
 * `claim_adjudication_times_vw`: one row per claim that was ever Submitted (from {@link CLAIM_VIEWS.statusHistory}):
 * when it was first Submitted, first decided after that (Approved or Rejected: decidedAt, decision) and first paid
 * after that (claimStatus or paymentStatus Paid: paidAt), with secondsToDecision and secondsToPaid from submission
 * (exact, from the microsecond event times; NULL until it happens). Payer and plan come from the claim's newest
 * event, so removed claims keep theirs. Percentiles by payer:
 * `SELECT payerName, PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY secondsToPaid) FROM claim_adjudication_times_vw GROUP BY payerName`.
 */
const adjudicationTimes = (dialect: Dialect, latestEventView: string): string => {
  const seconds = (to: string) => `CAST(${to} - s.submittedMicros AS DOUBLE) / 1000000`;
  return (
    `CREATE OR REPLACE VIEW ${CLAIM_VIEWS.adjudicationTimes}${dialect.copyGrants()} AS ` +
    `WITH submitted AS (SELECT claimId, MIN(validFromMicros) AS submittedMicros FROM ${CLAIM_VIEWS.statusHistory} WHERE claimStatus = 'Submitted' GROUP BY claimId), ` +
    `decided AS (SELECT p.claimId, MIN(p.validFromMicros) AS decidedMicros, MIN_BY(p.claimStatus, p.validFromMicros) AS decision ` +
    `FROM ${CLAIM_VIEWS.statusHistory} p JOIN submitted s ON s.claimId = p.claimId AND p.validFromMicros >= s.submittedMicros ` +
    `WHERE p.claimStatus IN (${list(DECISION_STATUSES)}) GROUP BY p.claimId), ` +
    `paid AS (SELECT p.claimId, MIN(p.validFromMicros) AS paidMicros ` +
    `FROM ${CLAIM_VIEWS.statusHistory} p JOIN submitted s ON s.claimId = p.claimId AND p.validFromMicros >= s.submittedMicros ` +
    `WHERE p.claimStatus = 'Paid' OR p.paymentStatus = 'Paid' GROUP BY p.claimId) ` +
    `SELECT s.claimId, l.payerId, l.payerName, l.insurancePlan, ${microsToTimestamp(dialect, 's.submittedMicros')} AS submittedAt, ` +
    `${microsToTimestamp(dialect, 'd.decidedMicros')} AS decidedAt, d.decision, ${microsToTimestamp(dialect, 'p.paidMicros')} AS paidAt, ` +
    `${seconds('d.decidedMicros')} AS secondsToDecision, ${seconds('p.paidMicros')} AS secondsToPaid ` +
    `FROM submitted s LEFT JOIN decided d ON d.claimId = s.claimId LEFT JOIN paid p ON p.claimId = s.claimId ` +
    `LEFT JOIN ${latestEventView} l ON l.claimId = s.claimId`
  );
};

/** DDL of the {@link CLAIM_VIEWS}, in dependency order (the history view first). `latestEventView` names the newest-event view. */
export const createClaimViews = (dialect: Dialect, latestEventView: string): string[] => [
  statusHistory(dialect),
  summary(dialect),
  pending(dialect),
  adjudicationTimes(dialect, latestEventView),
];
