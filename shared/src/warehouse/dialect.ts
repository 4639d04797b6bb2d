import { ALL_COLUMNS, type ColumnSpec, type ColumnType, ROW_COLUMNS } from '../domain/columns';
import { type MergeCondition, MERGE_RULES, VERSION_PARTS } from '../domain/merge-rules';
import { MERGE_RUN_COLUMN, TABLES } from './tables';

/** The two SQL dialects. Everything that differs between them is decided in this file and nowhere else. */
export type DialectName = 'duckdb' | 'snowflake';

const TYPES: Record<DialectName, Record<ColumnType, string>> = {
  snowflake: { STRING: 'STRING', VARCHAR1: 'VARCHAR(1)', FLOAT: 'FLOAT', INTEGER: 'INTEGER', TIMESTAMP_NTZ: 'TIMESTAMP_NTZ(9)', JSON: 'VARIANT' },
  // DuckDB has no TIMESTAMP_NTZ (TIMESTAMP is zone-less) and no VARIANT; raw images stay JSON text.
  duckdb: { STRING: 'VARCHAR', VARCHAR1: 'VARCHAR(1)', FLOAT: 'DOUBLE', INTEGER: 'BIGINT', TIMESTAMP_NTZ: 'TIMESTAMP', JSON: 'VARCHAR' },
};

/** The type a staged value has before it is converted (timestamps and JSON arrive as text). */
const STAGED_TYPES: Record<ColumnType, ColumnType> = { STRING: 'STRING', VARCHAR1: 'STRING', FLOAT: 'FLOAT', INTEGER: 'INTEGER', TIMESTAMP_NTZ: 'STRING', JSON: 'STRING' };

/** The format of staged timestamps (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, checked by cell-rules) for Snowflake's parser. */
export const SNOWFLAKE_TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.FF"Z"';

const RUN_ID = /^[0-9a-f-]{36}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** Ordered statements of one warehouse operation, run in one transaction by an adapter. */
export interface Statements {
  readonly sql: readonly string[];
}

/** SQL text for one dialect, derived from the column registry. */
export class Dialect {
  constructor(readonly name: DialectName) {}

  /** The dialect's type for a registry type. */
  type(type: ColumnType): string {
    return TYPES[this.name][type];
  }

  #columnDefs(columns: readonly ColumnSpec[]): string {
    return columns.map((c) => `  ${c.name} ${this.type(c.type)}`).join(',\n');
  }

  /** Converts a staged value (`ref`) to its column's type. */
  fromStaged(column: ColumnSpec, ref: string): string {
    // Snowflake parses by the session's TIMESTAMP_INPUT_FORMAT unless told: give the one format the rows use.
    if (column.type === 'TIMESTAMP_NTZ') return this.name === 'snowflake' ? `TO_TIMESTAMP_NTZ(${ref}, '${SNOWFLAKE_TIMESTAMP_FORMAT}')` : `CAST(${ref} AS TIMESTAMP)`;
    if (column.type === 'JSON') return this.name === 'snowflake' ? `PARSE_JSON(${ref})` : ref;
    return ref;
  }

  /** A timestamp literal (UTC, zone-less). */
  timestamp(iso: string): string {
    if (!ISO_UTC.test(iso)) throw new Error('timestamp literal must be ISO-8601 UTC');
    return `CAST('${iso.slice(0, -1).replace('T', ' ')}' AS ${this.type('TIMESTAMP_NTZ')})`;
  }

  /**
   * The version of row alias `alias` as one fixed-width text, comparable with `<` and `>`: built from
   * `VERSION_PARTS`, the same definition `versionKey` in merge-rules computes in memory. LPAD never truncates here:
   * decode and load reject times over 20 digits and sequence numbers over 128.
   */
  versionKey(alias: string): string {
    return VERSION_PARTS.map((p) => `SUBSTR(LPAD(COALESCE(${alias}.${p.field}, ''), ${p.width}, '0'), ${p.start + 1}, ${p.length})`).join(' || ');
  }

  /** The SQL of each merge-rules condition, for the newest event `l` against destination `d` and tombstone `t`. */
  #condition(when: MergeCondition): string {
    const l = this.versionKey('l');
    switch (when) {
      case 'tombstoneNotOlder':
        return `t.claimId IS NOT NULL AND ${l} <= ${this.versionKey('t')}`;
      case 'destinationNotOlder':
        return `d.claimId IS NOT NULL AND ${l} <= ${this.versionKey('d')}`;
      case 'isRemove':
        return `l.eventName = 'REMOVE'`;
      case 'otherwise':
        return 'TRUE';
    }
  }

  /** `MERGE_RULES` as one CASE expression: the first rule whose condition holds gives the action. */
  mergeActionCase(): string {
    return `CASE ${MERGE_RULES.map((rule) => `WHEN ${this.#condition(rule.when)} THEN '${rule.action}'`).join(' ')} END`;
  }

  /** DDL for the three quickstart tables (with our metadata columns) and the tombstones. Idempotent. */
  createTables(): string[] {
    const body = this.#columnDefs(ALL_COLUMNS);
    return [
      `CREATE TABLE IF NOT EXISTS ${TABLES.destination} (\n${body}\n)`,
      `CREATE TABLE IF NOT EXISTS ${TABLES.history} (\n${body}\n)`,
      `CREATE TABLE IF NOT EXISTS ${TABLES.staging} (\n${body},\n  ${MERGE_RUN_COLUMN} ${this.type('STRING')}\n)`,
      `CREATE TABLE IF NOT EXISTS ${TABLES.tombstones} (\n  claimId ${this.type('STRING')},\n  eventCreationUnixTime ${this.type('STRING')},\n  sequenceNumber ${this.type('STRING')},\n  eventId ${this.type('STRING')},\n  deletedAt ${this.type('TIMESTAMP_NTZ')}\n)`,
    ];
  }

  /**
   * Column definitions of the per-session load table rows are staged into before they are moved, in one
   * transaction, into staging and history. Types are the staged types (text for timestamps and JSON).
   */
  loadTableColumns(): string {
    return ROW_COLUMNS.map((c) => `${c.name} ${this.type(STAGED_TYPES[c.type])}`).join(', ');
  }

  /**
   * Moves a staged batch (`source`, one row per {@link ROW_COLUMNS} in that order, possibly with duplicates) into
   * staging and history, idempotently by event id: an event already in history is not staged again (it was merged
   * or is waiting to be), and history holds each event once.
   */
  stageFrom(source: string, loadedAtIso: string): string[] {
    const names = ROW_COLUMNS.map((c) => c.name);
    const converted = ROW_COLUMNS.map((c) => `${this.fromStaged(c, `b.${c.name}`)}`).join(', ');
    const convertedAs = ROW_COLUMNS.map((c) => `${this.fromStaged(c, `b.${c.name}`)} AS ${c.name}`).join(', ');
    const fresh =
      `(SELECT * FROM ${source} QUALIFY ROW_NUMBER() OVER (PARTITION BY eventId ORDER BY eventId) = 1) b ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${TABLES.history} h WHERE h.eventId = b.eventId)`;
    const loadedAt = this.timestamp(loadedAtIso);
    return [
      `INSERT INTO ${TABLES.staging} (${names.join(', ')}, loadedAt, ${MERGE_RUN_COLUMN}) SELECT ${converted}, ${loadedAt}, NULL FROM ${fresh}`,
      // A MERGE, not an INSERT: on Snowflake it takes the table lock, so two loads of one event cannot both add it.
      `MERGE INTO ${TABLES.history} USING (SELECT ${convertedAs}, ${loadedAt} AS loadedAt FROM ${fresh}) s ON ${TABLES.history}.eventId = s.eventId ` +
        `WHEN NOT MATCHED THEN INSERT (${names.join(', ')}, loadedAt) VALUES (${names.map((n) => `s.${n}`).join(', ')}, s.loadedAt)`,
    ];
  }

  /**
   * The newest row of `table` (by version, then eventId) for each claim of this run, with how many rows the claim
   * has there (`copies`). Snowflake does not enforce keys, so a manual load or a backfill can leave several rows per
   * claimId in the destination or the tombstones; joining the plan to them directly would give the MERGE several
   * source rows per target row (Snowflake: "Duplicate row detected"). Only the claims of this run are read, so a
   * duplicate is found and repaired when its claim next changes, not by scanning the whole table every run.
   */
  #newestPerClaim(table: string): string {
    return (
      `SELECT *, COUNT(*) OVER (PARTITION BY claimId) AS copies FROM ${table} x WHERE claimId IN (SELECT claimId FROM latest) ` +
      `QUALIFY ROW_NUMBER() OVER (PARTITION BY claimId ORDER BY ${this.versionKey('x')} DESC, eventId DESC) = 1`
    );
  }

  /**
   * The merge plan: the newest claimed event per claim and what to do with it (merge-rules `decide`, in SQL), judged
   * against the newest destination row and tombstone of that claim, and how many rows each holds for it.
   * Evaluated again after the destination MERGE it still marks the same REMOVEs `delete` and finds the same
   * tombstones, which is what lets Snowflake run the whole merge without temporary tables (their DDL would end the
   * transaction). (An upsert turns `stale` then; the tombstone MERGE treats both alike.)
   */
  #plan(runId: string): string {
    return (
      `WITH latest AS (SELECT * FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} = '${runId}' ` +
      `QUALIFY ROW_NUMBER() OVER (PARTITION BY claimId ORDER BY ${this.versionKey(TABLES.staging)} DESC, eventId DESC) = 1), ` +
      `newestTombstone AS (${this.#newestPerClaim(TABLES.tombstones)}), ` +
      `newestDestination AS (${this.#newestPerClaim(TABLES.destination)}), ` +
      `plan AS (SELECT l.*, ${this.mergeActionCase()} AS mergeAction, ` +
      `CASE WHEN d.claimId IS NULL THEN 0 ELSE 1 END AS destExists, ` +
      `COALESCE(d.copies, 0) AS destCopies, COALESCE(t.copies, 0) AS tombstoneCopies ` +
      `FROM latest l LEFT JOIN newestTombstone t ON t.claimId = l.claimId LEFT JOIN newestDestination d ON d.claimId = l.claimId)`
    );
  }

  /**
   * One merge run, in order, to be run in ONE transaction:
   * 0. claim: mark the staged rows present now with this run's id (rows staged later stay unclaimed);
   * 1. stats: counts for metrics (read before anything changes), `duplicates` among them;
   * 2. MERGE the newest event per claim into the destination (upsert or delete, stale ones skipped);
   * 3. MERGE tombstones for the REMOVEs that won;
   * 4. delete exactly the claimed rows from staging.
   *
   * Duplicate keys (several destination rows or tombstones for one claim of this run) are repaired inside the same
   * two MERGEs, since neither dialect can tell identical rows apart (Snowflake has no rowid): a `clear` source row
   * matches, and deletes, every copy; a `reinsert` source row, whose join key (`mergeKey`) is NULL, matches nothing
   * and inserts the one row the claim keeps (the new event, or the newest copy when the event is stale; none for a
   * REMOVE). Every target row still meets exactly one source row, so the MERGE is deterministic.
   */
  merge(runId: string, nowIso: string): { claim: string; stats: string; apply: string[] } {
    if (!RUN_ID.test(runId)) throw new Error('merge run id must be a UUID');
    const cols = ALL_COLUMNS.map((c) => c.name);
    const plan = this.#plan(runId);
    const now = this.timestamp(nowIso);
    const tombstoneCols = ['claimId', 'eventCreationUnixTime', 'sequenceNumber', 'eventId'];
    const fromAlias = (alias: string, columns: readonly string[]) => columns.map((c) => `${alias}.${c}`).join(', ');
    // A NULL key matches no row. Not an extra ON predicate: DuckDB's MERGE then leaves its hash join (30x slower).
    const noKey = `CAST(NULL AS ${this.type('STRING')})`;
    return {
      claim: `UPDATE ${TABLES.staging} SET ${MERGE_RUN_COLUMN} = '${runId}' WHERE ${MERGE_RUN_COLUMN} IS NULL`,
      stats:
        `${plan} SELECT (SELECT COUNT(*) FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} = '${runId}') AS events, ` +
        `COUNT(*) AS claims, ` +
        `COUNT_IF(mergeAction = 'upsert' AND destExists = 0) AS inserted, ` +
        `COUNT_IF(mergeAction = 'upsert' AND destExists = 1) AS updated, ` +
        `COUNT_IF(mergeAction = 'delete' AND destExists = 1) AS deleted, ` +
        `COUNT_IF(mergeAction = 'delete' AND destExists = 0) AS tombstonedOnly, ` +
        `COUNT_IF(mergeAction = 'stale') AS stale, ` +
        `COALESCE(SUM(GREATEST(destCopies - 1, 0) + GREATEST(tombstoneCopies - 1, 0)), 0) AS duplicates FROM plan`,
      apply: [
        `MERGE INTO ${TABLES.destination} USING (${plan} ` +
          `SELECT ${cols.join(', ')}, mergeAction, 'apply' AS mergeRole, claimId AS mergeKey FROM plan WHERE mergeAction <> 'stale' AND destCopies < 2 ` +
          `UNION ALL SELECT ${cols.join(', ')}, 'delete', 'clear', claimId FROM plan WHERE destCopies > 1 ` +
          `UNION ALL SELECT ${cols.join(', ')}, 'upsert', 'reinsert', ${noKey} FROM plan WHERE destCopies > 1 AND mergeAction = 'upsert' ` +
          `UNION ALL SELECT ${fromAlias('d', cols)}, 'upsert', 'reinsert', ${noKey} FROM plan p JOIN newestDestination d ON d.claimId = p.claimId WHERE p.destCopies > 1 AND p.mergeAction = 'stale'` +
          `) s ON ${TABLES.destination}.claimId = s.mergeKey ` +
          `WHEN MATCHED AND s.mergeAction = 'delete' THEN DELETE ` +
          `WHEN MATCHED THEN UPDATE SET ${cols.map((c) => `${c} = s.${c}`).join(', ')} ` +
          `WHEN NOT MATCHED AND s.mergeAction = 'upsert' THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`,
        `MERGE INTO ${TABLES.tombstones} USING (${plan} ` +
          `SELECT ${tombstoneCols.join(', ')}, ${now} AS deletedAt, 'apply' AS mergeRole, claimId AS mergeKey FROM plan WHERE mergeAction = 'delete' AND tombstoneCopies < 2 ` +
          `UNION ALL SELECT ${tombstoneCols.join(', ')}, ${now}, 'clear', claimId FROM plan WHERE tombstoneCopies > 1 ` +
          `UNION ALL SELECT ${tombstoneCols.join(', ')}, ${now}, 'reinsert', ${noKey} FROM plan WHERE tombstoneCopies > 1 AND mergeAction = 'delete' ` +
          `UNION ALL SELECT ${fromAlias('t', tombstoneCols)}, t.deletedAt, 'reinsert', ${noKey} FROM plan p JOIN newestTombstone t ON t.claimId = p.claimId WHERE p.tombstoneCopies > 1 AND p.mergeAction <> 'delete'` +
          `) s ON ${TABLES.tombstones}.claimId = s.mergeKey ` +
          `WHEN MATCHED AND s.mergeRole = 'clear' THEN DELETE ` +
          `WHEN MATCHED THEN UPDATE SET eventCreationUnixTime = s.eventCreationUnixTime, sequenceNumber = s.sequenceNumber, eventId = s.eventId, deletedAt = s.deletedAt ` +
          `WHEN NOT MATCHED AND s.mergeRole <> 'clear' THEN INSERT (claimId, eventCreationUnixTime, sequenceNumber, eventId, deletedAt) VALUES (s.claimId, s.eventCreationUnixTime, s.sequenceNumber, s.eventId, s.deletedAt)`,
        `DELETE FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} = '${runId}'`,
      ],
    };
  }

  /**
   * Functions the quickstart's verification queries use that DuckDB lacks, so those queries run unchanged.
   * Snowflake has them built in.
   */
  compatibility(): string[] {
    return this.name === 'duckdb' ? ['CREATE OR REPLACE MACRO to_number(x) AS CAST(x AS DOUBLE)'] : [];
  }

  /** Counts for `status`: rows in each table and the age of the oldest unmerged event. */
  status(): string {
    return (
      `SELECT (SELECT COUNT(*) FROM ${TABLES.staging}) AS staged, (SELECT COUNT(*) FROM ${TABLES.history}) AS history, ` +
      `(SELECT COUNT(*) FROM ${TABLES.destination}) AS destination, (SELECT COUNT(*) FROM ${TABLES.tombstones}) AS tombstones, ` +
      `(SELECT MIN(CAST(eventCreationUnixTime AS BIGINT)) FROM ${TABLES.staging}) AS oldestStagedMicros`
    );
  }

  /**
   * Snowflake's `CREATE OR REPLACE VIEW` drops the grants on the view it replaces (the masking worksheet's among
   * them) unless told to copy them; DuckDB has no grants.
   */
  copyGrants(): string {
    return this.name === 'snowflake' ? ' COPY GRANTS' : '';
  }

  /** The current UTC time as a zone-less timestamp, comparable with `loadedAt` and `deletedAt` (written as UTC). */
  utcNow(): string {
    return this.name === 'snowflake' ? 'SYSDATE()' : "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)";
  }
}

/** Dialects by name. */
export const DIALECTS: Record<DialectName, Dialect> = { duckdb: new Dialect('duckdb'), snowflake: new Dialect('snowflake') };
