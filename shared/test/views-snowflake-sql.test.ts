/**
 * The Snowflake worksheets of the views: 04-views.sql is what the generator writes (drift), holds the key fragments
 * written out below as literals, exposes no PHI column, and 05-masking.sql lets both roles read every view.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { sqlFiles } from '../scripts/sql-files';
import { PHI_COLUMNS } from '../src/domain/columns';

const root = resolve(__dirname, '..', '..');
const onDisk = (path: string): string => readFileSync(resolve(root, path), 'utf8');
const views = onDisk('sql/snowflake/04-views.sql');
const masking = onDisk('sql/snowflake/05-masking.sql');
const oneLine = (sql: string): string => sql.replace(/\s+/g, ' ');

const NEW_VIEWS = ['claim_status_history_vw', 'claims_summary_vw', 'pending_claims_vw', 'claim_adjudication_times_vw'];
const ALL_VIEWS = ['openflow_insclaim_latest_event_vw', 'openflow_insclaim_backlog_vw', ...NEW_VIEWS];

/** One view's statement, on one line. */
const statementOf = (view: string): string => {
  const start = views.indexOf(`CREATE OR REPLACE VIEW ${view} `);
  if (start < 0) throw new Error(`04-views.sql creates no ${view}`);
  return oneLine(views.slice(start, views.indexOf(';\n', start)));
};

/** The version key of alias `h` as the merge builds it (VERSION_PARTS: ms, sequence number, µs), written out. */
const VERSION_KEY_H =
  "SUBSTR(LPAD(COALESCE(h.eventCreationUnixTime, ''), 20, '0'), 1, 17) || SUBSTR(LPAD(COALESCE(h.sequenceNumber, ''), 128, '0'), 1, 128) || SUBSTR(LPAD(COALESCE(h.eventCreationUnixTime, ''), 20, '0'), 18, 3)";

describe('sql/snowflake/04-views.sql', () => {
  it('is what `npm run sql:generate` writes now', () => {
    expect(views).toBe(sqlFiles()['sql/snowflake/04-views.sql']);
  });

  it('replaces every view with COPY GRANTS, dependencies first', () => {
    // Act
    const created = [...views.matchAll(/^CREATE OR REPLACE VIEW (\w+) COPY GRANTS AS /gm)].map(([, name]) => name);
    // Assess
    expect(created).toEqual(ALL_VIEWS);
    expect(views).not.toMatch(/CREATE OR REPLACE VIEW \w+ AS /);
  });

  it('builds the status history from the history table, each event once, in the merge order, with µs event times', () => {
    // Act
    const sql = statementOf('claim_status_history_vw');
    // Assess
    expect(sql).toContain(`CAST(h.eventCreationUnixTime AS BIGINT) AS eventMicros, ${VERSION_KEY_H} AS versionKey FROM openflow_insclaim_event_hist_tbl h`);
    expect(sql).toContain('QUALIFY ROW_NUMBER() OVER (PARTITION BY h.eventId ORDER BY h.loadedAt, h.claimId) = 1');
    expect(sql).toContain('LAG(e.claimStatus) OVER (PARTITION BY e.claimId ORDER BY e.versionKey, e.eventId) AS prevClaimStatus');
    expect(sql).toContain('OR s.claimStatus IS DISTINCT FROM s.prevClaimStatus OR s.paymentStatus IS DISTINCT FROM s.prevPaymentStatus');
    expect(sql).toContain("OR (s.eventName = 'REMOVE' AND s.prevEventName IS NOT NULL AND s.prevEventName <> 'REMOVE')");
    expect(sql).toContain('TO_TIMESTAMP_NTZ(eventMicros, 6) AS validFrom, TO_TIMESTAMP_NTZ(nextMicros, 6) AS validTo, (nextEventId IS NULL) AS isCurrent');
    expect(sql).toMatch(/FROM boundaries WHERE eventName <> 'REMOVE'$/);
    expect(sql).not.toContain('make_timestamp');
  });

  it('summarises the destination by status, payer, plan and month of service', () => {
    const sql = statementOf('claims_summary_vw');
    expect(sql).toContain("CAST(DATE_TRUNC('month', TRY_CAST(dateOfService AS DATE)) AS DATE) AS serviceMonth");
    expect(sql).toContain('COUNT(*) AS claimCount, ROUND(SUM(totalCharge), 2) AS chargeTotal, ROUND(AVG(totalCharge), 2) AS chargeAverage FROM openflow_insclaim_dest_tbl GROUP BY 1, 2, 3, 4, 5, 6');
  });

  it('keeps pending claims by the settled statuses and ages them against SYSDATE() (UTC)', () => {
    const sql = statementOf('pending_claims_vw');
    expect(sql).toContain("WHERE COALESCE(d.claimStatus, '') NOT IN ('Paid', 'Rejected') AND COALESCE(d.paymentStatus, '') NOT IN ('Paid', 'Denied')");
    expect(sql).toContain("DATEDIFF('second', p.validFrom, SYSDATE()) AS secondsSinceStatusChange");
    expect(sql).toContain('LEFT JOIN claim_status_history_vw p ON p.claimId = d.claimId AND p.isCurrent');
  });

  it('times adjudication from the status history, payer from the newest event', () => {
    const sql = statementOf('claim_adjudication_times_vw');
    expect(sql).toContain("MIN_BY(p.claimStatus, p.validFromMicros) AS decision FROM claim_status_history_vw p");
    expect(sql).toContain("WHERE p.claimStatus IN ('Approved', 'Rejected')");
    expect(sql).toContain('CAST(p.paidMicros - s.submittedMicros AS DOUBLE) / 1000000 AS secondsToPaid');
    expect(sql).toContain('LEFT JOIN openflow_insclaim_latest_event_vw l ON l.claimId = s.claimId');
  });

  it.each(NEW_VIEWS)('%s selects no PHI column', (view) => {
    // Prepare
    const sql = statementOf(view);
    // Assess
    expect(PHI_COLUMNS).toEqual(expect.arrayContaining(['memberId', 'patientFirstName', 'rawImage']));
    for (const column of PHI_COLUMNS) expect({ view, column, used: new RegExp(`\\b${column}\\b`, 'i').test(sql) }).toEqual({ view, column, used: false });
    expect(sql).not.toMatch(/SELECT \*|\bh\.\*|\bd\.\*/);
  });
});

describe('sql/snowflake/05-masking.sql', () => {
  it.each(ALL_VIEWS.flatMap((view) => [[view, 'CLAIMS_ANALYST'], [view, 'PHI_READER']]))('grants SELECT on %s to %s', (view, role) => {
    expect(masking).toContain(`GRANT SELECT ON VIEW ${view} TO ROLE ${role};`);
  });
});
