import { CLAIM_VIEWS, createClaimViews } from './claim-views';
import type { Dialect } from './dialect';
import { TABLES } from './tables';

/** Views for people reading the warehouse (not used by the pipeline), in creation order. */
export const VIEWS = {
  /** The newest history event of every claim, REMOVEs included: the audit trail's current state. */
  latestEvent: 'openflow_insclaim_latest_event_vw',
  /** One row: what waits in staging for the next merge, and how long the oldest row has waited. */
  backlog: 'openflow_insclaim_backlog_vw',
  /** SCD type-2 periods of each claim's (claimStatus, paymentStatus), from the event history (claim-views.ts). */
  statusHistory: CLAIM_VIEWS.statusHistory,
  /** Claim count and charges by status, payer, plan and month of service (claim-views.ts). */
  summary: CLAIM_VIEWS.summary,
  /** Claims not yet Paid, Rejected or Denied, oldest first, with their ages (claim-views.ts). */
  pending: CLAIM_VIEWS.pending,
  /** Per submitted claim, time to decision and to payment (claim-views.ts). */
  adjudicationTimes: CLAIM_VIEWS.adjudicationTimes,
} as const;

/**
 * DDL of the {@link VIEWS}, in dependency order. "Newest" is the merge rules' order (version key, then event id),
 * the same as the merge's. Views read through the tables' masking policies, so PHI stays masked for roles that may
 * not see it; on Snowflake each is replaced WITH COPY GRANTS so re-running keeps the grants of 05-masking.sql.
 */
export const createViews = (dialect: Dialect): string[] => [
  `CREATE OR REPLACE VIEW ${VIEWS.latestEvent}${dialect.copyGrants()} AS SELECT * FROM ${TABLES.history} h ` +
    `QUALIFY ROW_NUMBER() OVER (PARTITION BY h.claimId ORDER BY ${dialect.versionKey('h')} DESC, h.eventId DESC) = 1`,
  `CREATE OR REPLACE VIEW ${VIEWS.backlog}${dialect.copyGrants()} AS SELECT COUNT(*) AS stagedRows, COUNT(DISTINCT claimId) AS stagedClaims, ` +
    `MIN(CAST(eventCreationUnixTime AS BIGINT)) AS oldestStagedMicros, MIN(loadedAt) AS oldestLoadedAt, ` +
    `DATEDIFF('second', MIN(loadedAt), ${dialect.utcNow()}) AS oldestUnmergedAgeSeconds FROM ${TABLES.staging}`,
  ...createClaimViews(dialect, VIEWS.latestEvent),
];
