/**
 * The verification queries of Snowflake's quickstart "Streamlining Healthcare Claims CDC using DynamoDB and
 * Openflow" (section "Change Data Capture (CDC) In Action"), verbatim — comments, case and trailing spaces
 * included — and what each must return after the demo's steps. Lines are kept as a list so that no editor can
 * quietly strip a trailing space.
 */
import type { ResultRow } from '@claims-cdc/shared/warehouse/port';

/** What the demo did, which the expectations refer to. */
export interface DemoFacts {
  /** The claims ingested in step 1. */
  readonly claimIds: readonly string[];
  /** The `In Review` claim moved to `Rejected` in step 2 and deleted in step 3. */
  readonly target: string;
}

/** Whether a result holds, what was expected, and (when it does not hold) what was seen. Never row values beyond ids and statuses. */
export interface CheckOutcome {
  readonly ok: boolean;
  readonly expected: string;
  readonly got?: string;
}

/** One quickstart query and its expectation. */
export interface QuickstartQuery {
  /** The demo step after which the quickstart runs it. */
  readonly step: 'insert' | 'modify' | 'delete';
  readonly sql: string;
  check(rows: readonly ResultRow[], facts: DemoFacts): CheckOutcome;
}

const sql = (...lines: string[]): string => lines.join('\n');

/** A column of a row whatever the case of its name (Snowflake upper-cases unquoted names, DuckDB keeps them). */
const field = (row: ResultRow, name: string): unknown => Object.entries(row).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];

const idsOf = (rows: readonly ResultRow[]): string[] => rows.map((r) => String(field(r, 'claimId')));

const describeRows = (rows: readonly ResultRow[]): string =>
  rows.length === 0 ? 'no rows' : `${rows.length} row(s): ${rows.slice(0, 5).map((r) => `${String(field(r, 'claimId'))} ${String(field(r, 'claimStatus') ?? '')}`.trim()).join(', ')}`;

/** Exactly the given claims, once each. */
const oneRowPerClaim = (rows: readonly ResultRow[], claimIds: readonly string[], what: string): CheckOutcome => {
  const ids = idsOf(rows);
  const expectedIds = new Set(claimIds);
  const ok = ids.length === claimIds.length && new Set(ids).size === ids.length && ids.every((id) => expectedIds.has(id));
  const matching = ids.filter((id) => expectedIds.has(id)).length;
  return { ok, expected: `${claimIds.length} ${what}, one per ingested claim`, ...(ok ? {} : { got: `${rows.length} rows, ${matching} of them for ingested claims` }) };
};

/** One row, for the target claim, with the given claim status (when given). */
const onlyTarget = (rows: readonly ResultRow[], target: string, what: string, status?: string): CheckOutcome => {
  const row = rows[0];
  const ok = rows.length === 1 && row !== undefined && field(row, 'claimId') === target && (status === undefined || field(row, 'claimStatus') === status);
  return { ok, expected: `one ${what}: ${target}${status ? `, claimStatus ${status}` : ''}`, ...(ok ? {} : { got: describeRows(rows) }) };
};

const modifyColumns = [
  'select ',
  '    eventName,',
  '    TO_TIMESTAMP(TO_NUMBER(eventCreationUnixTime) / 1000000) AS eventCreationUTC,',
  '    claimId, ',
  '    claimStatus, ',
  '    paymentStatus, ',
  '    totalCharge, ',
  '    insurancePlan,',
  '    memberId,',
  '    providerName',
];

/** The quickstart's verification queries, in its order. */
export const QUICKSTART_QUERIES: readonly QuickstartQuery[] = [
  {
    step: 'insert',
    sql: sql('-- count and show rows in the destination table', 'select * from openflow_insclaim_dest_tbl;'),
    check: (rows, facts) => oneRowPerClaim(rows, facts.claimIds, 'rows'),
  },
  {
    step: 'insert',
    sql: sql('select count(*) from openflow_insclaim_dest_tbl;'),
    check: (rows, facts) => {
      const first = rows[0];
      const count = rows.length === 1 && first ? Number(Object.values(first)[0]) : Number.NaN;
      const ok = count === facts.claimIds.length;
      return { ok, expected: `count = ${facts.claimIds.length}`, ...(ok ? {} : { got: Number.isNaN(count) ? `${rows.length} rows` : `count = ${count}` }) };
    },
  },
  {
    step: 'insert',
    sql: sql('-- All the Insert events are captured in the event history table', "select * from openflow_insclaim_event_hist_tbl where eventname='INSERT';"),
    check: (rows, facts) => oneRowPerClaim(rows, facts.claimIds, 'INSERT events'),
  },
  {
    step: 'modify',
    sql: sql(...modifyColumns, "  from openflow_insclaim_dest_tbl where eventname = 'MODIFY';"),
    check: (rows, facts) => onlyTarget(rows, facts.target, 'row last changed by a MODIFY', 'Rejected'),
  },
  {
    step: 'modify',
    sql: sql(...modifyColumns, "  from openflow_insclaim_event_hist_tbl where eventname = 'MODIFY' order by eventCreationUTC;"),
    check: (rows, facts) => onlyTarget(rows, facts.target, 'MODIFY event in the history', 'Rejected'),
  },
  {
    step: 'delete',
    sql: sql(
      'SELECT *',
      'FROM openflow_insclaim_dest_tbl',
      '-- get the claim id from the event history table',
      'WHERE claimid IN (',
      '    SELECT claimid',
      '    FROM openflow_insclaim_event_hist_tbl',
      "    WHERE eventname = 'MODIFY'",
      ');',
    ),
    check: (rows, facts) => ({ ok: rows.length === 0, expected: `no rows: ${facts.target} is gone from the destination`, ...(rows.length === 0 ? {} : { got: describeRows(rows) }) }),
  },
  {
    step: 'delete',
    sql: sql(...modifyColumns, "  from openflow_insclaim_event_hist_tbl where eventname = 'REMOVE' order by eventCreationUTC;"),
    check: (rows, facts) => onlyTarget(rows, facts.target, 'REMOVE event in the history'),
  },
];
