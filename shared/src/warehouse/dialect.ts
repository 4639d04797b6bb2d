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

/** The temporary table a DuckDB merge builds its plan into (per connection; replaced by every run). */
export const MERGE_PLAN_TABLE = 'claims_cdc_merge_plan';

const TOMBSTONE_COLUMNS = ['claimId', 'eventCreationUnixTime', 'sequenceNumber', 'eventId'] as const;

/** Version parts longer than this many digits are stored by {@link Dialect.compactVersionKey} without their leading zeros. */
const COMPACT_PART_ABOVE = 20;

/**
 * How each dialect shapes a merge: the one place the two differ, stated here.
 * - `cte` (Snowflake): the plan is a CTE each statement evaluates again, applied by two MERGEs. Snowflake's MERGE is
 *   fast, and a plan table would have to be created before BEGIN (DDL commits the open transaction).
 * - `table` (DuckDB): the plan is computed once into a temporary table (DuckDB's DDL is transactional, so it is
 *   built inside the transaction), then the claims it replaces are DELETEd and the winners INSERTed. DuckDB's
 *   `MERGE … UPDATE SET` of 36 columns rewrote rows scattered over the whole destination: 2.7x the CPU, and it
 *   left a checkpoint of tens of seconds for a later statement. Same results (merge-scenarios and the property test
 *   run every rule on DuckDB; the Snowflake SQL is pinned by literal tests).
 * Freshness percentiles: DuckDB `quantile_cont`, Snowflake `PERCENTILE_CONT`, both exact with the same linear
 * interpolation (APPROX_PERCENTILE would make the dialects disagree); they sort only the run's claimed times.
 */
export const MERGE_SHAPES: Record<DialectName, MergeShape> = { snowflake: 'cte', duckdb: 'table' };

/** See {@link MERGE_SHAPES}. */
export type MergeShape = 'cte' | 'table';

/**
 * How each dialect computes a stage's fresh set and keeps its history write exactly-once, stated here.
 * - `merge` (Snowflake): the fresh set (deduplicated, not yet in history) is computed in each of two statements, and
 *   history is written by a MERGE, which takes the table lock: two concurrent loads of one event cannot both add it.
 * - `fresh-in-place` (DuckDB): the fresh set is computed once, by deleting from the session's load table the events
 *   history already holds, then plainly INSERTed into staging and history. The adapter fills the load table with each
 *   event id once (the first row of an id, as Snowflake's ROW_NUMBER keeps one): dropping repeats in memory costs
 *   nothing, where SQL needed a GROUP BY over the batch. A plain INSERT is safe here: DuckDB has one writer process
 *   and the adapter serializes its stages (its stage lock), so no other stage can add the same event between the
 *   check against history and the INSERT.
 */
export const LOAD_SHAPES: Record<DialectName, 'merge' | 'fresh-in-place'> = { snowflake: 'merge', duckdb: 'fresh-in-place' };

/** The statements of one stage call (see {@link Dialect.stageFrom}). */
export interface StageStatements {
  readonly sql: readonly string[];
  /** Index of the statement whose changed rows are the events staged. */
  readonly stagedBy: number;
}

/** SQL expressions of the three versions the merge rules compare. */
export interface VersionKeys {
  readonly event: string;
  readonly destination: string;
  readonly tombstone: string;
}

/** One statement of a merge's apply step; `name` names it in errors (never the SQL). */
export interface MergeStep {
  readonly name: string;
  readonly sql: string;
}

/** The statements of one merge run, in the order `runMergeTransaction` runs them (see {@link Dialect.merge}). */
export interface MergeStatements {
  readonly claim: string;
  /** Builds the plan (shape `table`); empty for shape `cte`. */
  readonly plan: readonly string[];
  /**
   * One row: events, claims, inserted, updated, deleted, tombstonedOnly, stale, duplicates, and the claimed events'
   * creation times in µs (eventMicrosP50, eventMicrosP01, oldestEventMicros; NULL when none parses).
   */
  readonly stats: string;
  readonly apply: readonly MergeStep[];
  readonly deleteClaimed: string;
}

/** SQL text for one dialect, derived from the column registry. */
export class Dialect {
  /**
   * @param mergeShape how the merge is applied; the dialect's own ({@link MERGE_SHAPES}) unless a test asks DuckDB to
   *   run Snowflake's `cte` shape, so the DuckDB scenario and property tests prove that SQL's semantics too.
   */
  constructor(
    readonly name: DialectName,
    readonly mergeShape: MergeShape = MERGE_SHAPES[name],
  ) {}

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

  /**
   * {@link versionKey} re-encoded shorter, same order (the plan table's key, shape `table`). Every part is a slice of
   * decimal digits (decode and load accept nothing else) of a fixed width. A slice longer than
   * {@link COMPACT_PART_ABOVE} digits (the 128-digit sequence number) becomes the count of its significant digits,
   * itself fixed-width, then those digits: among equal-width digit strings, more significant digits is larger and an
   * equal count compares digit by digit, as the padded text does. Each part's length is fixed or fixed by the count in
   * front of it, so no key is a prefix of another and `key || eventId` still orders like (key, eventId).
   * Why: 23 characters plus the sequence number's digits instead of 148 to build, hash-aggregate and compare. Measured
   * side by side on the bench's batch (97,082 events, 1,000,000 rows, 2 busy cores): the staging half of the plan
   * 0.19–0.23 s of CPU instead of 0.41–0.47 s; the whole plan statement, median of 6 runs, 0.93 s instead of 1.03 s.
   */
  compactVersionKey(alias: string): string {
    return VERSION_PARTS.map((p) => {
      const value = `COALESCE(${alias}.${p.field}, '')`;
      const slice = `SUBSTR(LPAD(${value}, ${p.width}, '0'), ${p.start + 1}, ${p.length})`;
      if (p.length <= COMPACT_PART_ABOVE) return slice;
      // A whole-width part needs no padding to lose again: LPAD pads with zeros (LTRIM drops them) or cuts to the width.
      const significant = p.start === 0 && p.length === p.width ? `LTRIM(LEFT(${value}, ${p.width}), '0')` : `LTRIM(${slice}, '0')`;
      return `LPAD(CAST(LENGTH(${significant}) AS ${this.type('STRING')}), ${String(p.length).length}, '0') || ${significant}`;
    }).join(' || ');
  }

  /** The SQL of each merge-rules condition, for the newest event `l` against destination `d` and tombstone `t`. */
  #condition(when: MergeCondition, keys: VersionKeys): string {
    switch (when) {
      case 'tombstoneNotOlder':
        return `t.claimId IS NOT NULL AND ${keys.event} <= ${keys.tombstone}`;
      case 'destinationNotOlder':
        return `d.claimId IS NOT NULL AND ${keys.event} <= ${keys.destination}`;
      case 'isRemove':
        return `l.eventName = 'REMOVE'`;
      case 'otherwise':
        return 'TRUE';
    }
  }

  /**
   * `MERGE_RULES` as one CASE expression: the first rule whose condition holds gives the action. `keys` are the
   * version keys compared; by default computed from the full rows `l`, `d` and `t`.
   */
  mergeActionCase(keys: VersionKeys = { event: this.versionKey('l'), destination: this.versionKey('d'), tombstone: this.versionKey('t') }): string {
    return `CASE ${MERGE_RULES.map((rule) => `WHEN ${this.#condition(rule.when, keys)} THEN '${rule.action}'`).join(' ')} END`;
  }

  /** Continuous percentile `fraction` of `expr` over a group (see {@link MERGE_SHAPES} for the choice per dialect). */
  #percentile(expr: string, fraction: number): string {
    return this.name === 'duckdb' ? `quantile_cont(${expr}, ${fraction})` : `PERCENTILE_CONT(${fraction}) WITHIN GROUP (ORDER BY ${expr})`;
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
   * Moves a staged batch (`source`, the session's load table, one row per {@link ROW_COLUMNS} in that order,
   * possibly with repeated event ids in Snowflake's shape; in DuckDB's, each id once, and the shape deletes from it
   * what history already holds) into
   * staging and history, idempotently by event id: an event already in history is not staged again (it was merged
   * or is waiting to be), and history holds each event once. Run in one transaction; the rows changed by the
   * statement at `stagedBy` are the events staged.
   *
   * How the history write is kept exactly-once differs (see {@link LOAD_SHAPES}).
   */
  stageFrom(source: string, loadedAtIso: string): StageStatements {
    const names = ROW_COLUMNS.map((c) => c.name);
    const converted = ROW_COLUMNS.map((c) => `${this.fromStaged(c, `b.${c.name}`)}`).join(', ');
    const convertedAs = ROW_COLUMNS.map((c) => `${this.fromStaged(c, `b.${c.name}`)} AS ${c.name}`).join(', ');
    const fresh =
      `(SELECT * FROM ${source} QUALIFY ROW_NUMBER() OVER (PARTITION BY eventId ORDER BY eventId) = 1) b ` +
      `WHERE NOT EXISTS (SELECT 1 FROM ${TABLES.history} h WHERE h.eventId = b.eventId)`;
    const loadedAt = this.timestamp(loadedAtIso);
    if (LOAD_SHAPES[this.name] === 'fresh-in-place') {
      // The load table (one row per event id, see LOAD_SHAPES) becomes the fresh set: one DELETE of the events history
      // already holds (cheaper than a CREATE TABLE AS per batch, measured), then two plain INSERTs read what is left.
      // The history side is a semi join whose hash table is built from the batch, and history is only scanned
      // against it. The statement this replaced (`rowid NOT IN (… GROUP BY eventId) OR eventId IN (SELECT eventId
      // FROM history)`) cost 316–337 µs of CPU per row, batches of 1,000 against 1,000,000 events in history; this one
      // 43–52 µs with random event ids, 7–8 µs when the ids' ranges let zone maps skip history's row groups (the
      // bench's ids). It still scans history's eventId column once per batch: the part of a stage that grows with
      // history. A PRIMARY KEY on a narrow table of seen ids (INSERT … ON CONFLICT DO NOTHING) cost as much at
      // 1,000,000 random ids (51 µs) and doubled the checkpoint; history itself cannot take a UNIQUE index, as it may
      // hold an event twice (a manual load; Snowflake enforces no keys).
      const plain = ROW_COLUMNS.map((c) => this.fromStaged(c, c.name)).join(', ');
      return {
        sql: [
          `DELETE FROM ${source} WHERE eventId IN (SELECT h.eventId FROM ${TABLES.history} h WHERE h.eventId IN (SELECT eventId FROM ${source}))`,
          `INSERT INTO ${TABLES.staging} (${names.join(', ')}, loadedAt, ${MERGE_RUN_COLUMN}) SELECT ${plain}, ${loadedAt}, NULL FROM ${source}`,
          `INSERT INTO ${TABLES.history} (${names.join(', ')}, loadedAt) SELECT ${plain}, ${loadedAt} FROM ${source}`,
        ],
        stagedBy: 1,
      };
    }
    return {
      sql: [
        `INSERT INTO ${TABLES.staging} (${names.join(', ')}, loadedAt, ${MERGE_RUN_COLUMN}) SELECT ${converted}, ${loadedAt}, NULL FROM ${fresh}`,
        // A MERGE, not an INSERT: on Snowflake it takes the table lock, so two loads of one event cannot both add it.
        `MERGE INTO ${TABLES.history} USING (SELECT ${convertedAs}, ${loadedAt} AS loadedAt FROM ${fresh}) s ON ${TABLES.history}.eventId = s.eventId ` +
          `WHEN NOT MATCHED THEN INSERT (${names.join(', ')}, loadedAt) VALUES (${names.map((n) => `s.${n}`).join(', ')}, s.loadedAt)`,
      ],
      stagedBy: 0,
    };
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
   * The merge plan as CTEs (shape `cte`): the newest claimed event per claim and what to do with it (merge-rules
   * `decide`, in SQL), judged against the newest destination row and tombstone of that claim, and how many rows each
   * holds for it. Evaluated again after the destination MERGE it still marks the same REMOVEs `delete` and finds the
   * same tombstones, which is what lets Snowflake run the whole merge without temporary tables. (An upsert turns
   * `stale` then; the tombstone MERGE treats both alike.)
   */
  #planCte(runId: string): string {
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
   * Per claim of this run in `table`: the highest version key, how many rows it has (`copies`) and the rowid of its
   * newest row (by version, then eventId: the key is prefix-free, so key || eventId orders like the pair). The key is
   * {@link compactVersionKey}, as in the rest of the plan table.
   */
  #narrowNewest(table: string): string {
    const key = this.compactVersionKey('x');
    return (
      `SELECT claimId, MAX(${key}) AS versionKey, COUNT(*) AS copies, arg_max(x.rowid, ${key} || COALESCE(eventId, '')) AS newestRow ` +
      `FROM ${table} x WHERE claimId IN (SELECT claimId FROM latest) GROUP BY claimId`
    );
  }

  /**
   * The merge plan as a table (shape `table`), built once: one narrow row per claim of the run with the staged
   * rowid of its newest event, the action, and the destination's and tombstones' copies and newest rowid. Ranks on
   * (claimId, version key, eventId, rowid) only, never on full rows: sorting 100k staged rows with their raw images
   * was most of the plan's cost.
   */
  #planTable(runId: string): string {
    const l = TABLES.staging;
    return (
      `CREATE OR REPLACE TEMP TABLE ${MERGE_PLAN_TABLE} AS ` +
      `WITH claimed AS (SELECT s.rowid AS stagedRow, claimId, eventName, eventId, eventCreationUnixTime, sequenceNumber, ${this.compactVersionKey('s')} AS versionKey ` +
      `FROM ${l} s WHERE ${MERGE_RUN_COLUMN} = '${runId}'), ` +
      // arg_max over (key || eventId), prefix-free key first, is the ORDER BY versionKey DESC, eventId DESC of the other
      // shape as a hash aggregate: no sort of the keys.
      `latest AS (SELECT claimId, versionKey, w.stagedRow AS stagedRow, w.eventName AS eventName, w.eventId AS eventId, ` +
      `w.eventCreationUnixTime AS eventCreationUnixTime, w.sequenceNumber AS sequenceNumber FROM (SELECT claimId, MAX(versionKey) AS versionKey, ` +
      `arg_max(struct_pack(stagedRow, eventName, eventId, eventCreationUnixTime, sequenceNumber), versionKey || eventId) AS w FROM claimed GROUP BY claimId) g), ` +
      `newestTombstone AS (${this.#narrowNewest(TABLES.tombstones)}), ` +
      `newestDestination AS (${this.#narrowNewest(TABLES.destination)}) ` +
      `SELECT l.stagedRow, l.claimId, l.eventId, l.eventCreationUnixTime, l.sequenceNumber, ` +
      `${this.mergeActionCase({ event: 'l.versionKey', destination: 'd.versionKey', tombstone: 't.versionKey' })} AS mergeAction, ` +
      `CASE WHEN d.claimId IS NULL THEN 0 ELSE 1 END AS destExists, COALESCE(d.copies, 0) AS destCopies, d.newestRow AS destRow, ` +
      `COALESCE(t.copies, 0) AS tombstoneCopies, t.newestRow AS tombstoneRow ` +
      `FROM latest l LEFT JOIN newestTombstone t ON t.claimId = l.claimId LEFT JOIN newestDestination d ON d.claimId = l.claimId`
    );
  }

  /** The stats statement: counts over the plan `plan` (preceded by `prefix`), the claimed events and their creation times. */
  #stats(runId: string, prefix: string, plan: string): string {
    const micros = `TRY_CAST(eventCreationUnixTime AS ${this.type('FLOAT')})`;
    return (
      `${prefix}SELECT c.*, p.* FROM (SELECT COUNT(*) AS events, ` +
      `${this.#percentile('m', 0.5)} AS eventMicrosP50, ${this.#percentile('m', 0.01)} AS eventMicrosP01, MIN(m) AS oldestEventMicros ` +
      `FROM (SELECT ${micros} AS m FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} = '${runId}') e) c CROSS JOIN (SELECT ` +
      `COUNT(*) AS claims, ` +
      `COUNT_IF(mergeAction = 'upsert' AND destExists = 0) AS inserted, ` +
      `COUNT_IF(mergeAction = 'upsert' AND destExists = 1) AS updated, ` +
      `COUNT_IF(mergeAction = 'delete' AND destExists = 1) AS deleted, ` +
      `COUNT_IF(mergeAction = 'delete' AND destExists = 0) AS tombstonedOnly, ` +
      `COUNT_IF(mergeAction = 'stale') AS stale, ` +
      `COALESCE(SUM(GREATEST(destCopies - 1, 0) + GREATEST(tombstoneCopies - 1, 0)), 0) AS duplicates FROM ${plan}) p`
    );
  }

  /**
   * Shape `cte` (Snowflake): the destination and the tombstones each take one MERGE over the plan CTE. Duplicate
   * keys (several destination rows or tombstones for one claim of this run) are repaired inside those MERGEs, since
   * Snowflake cannot tell identical rows apart (no rowid): a `clear` source row matches, and deletes, every copy; a
   * `reinsert` source row, whose join key (`mergeKey`) is NULL, matches nothing and inserts the one row the claim
   * keeps (the new event, or the newest copy when the event is stale; none for a REMOVE). Every target row still
   * meets exactly one source row, so the MERGE is deterministic.
   */
  #applyByMerge(runId: string, now: string): MergeStep[] {
    const plan = this.#planCte(runId);
    const cols = ALL_COLUMNS.map((c) => c.name);
    const fromAlias = (alias: string, columns: readonly string[]) => columns.map((c) => `${alias}.${c}`).join(', ');
    // A NULL key matches no row. Not an extra ON predicate: DuckDB's MERGE then leaves its hash join (30x slower).
    const noKey = `CAST(NULL AS ${this.type('STRING')})`;
    return [
      {
        name: 'MERGE into destination',
        sql:
          `MERGE INTO ${TABLES.destination} USING (${plan} ` +
          `SELECT ${cols.join(', ')}, mergeAction, 'apply' AS mergeRole, claimId AS mergeKey FROM plan WHERE mergeAction <> 'stale' AND destCopies < 2 ` +
          `UNION ALL SELECT ${cols.join(', ')}, 'delete', 'clear', claimId FROM plan WHERE destCopies > 1 ` +
          `UNION ALL SELECT ${cols.join(', ')}, 'upsert', 'reinsert', ${noKey} FROM plan WHERE destCopies > 1 AND mergeAction = 'upsert' ` +
          `UNION ALL SELECT ${fromAlias('d', cols)}, 'upsert', 'reinsert', ${noKey} FROM plan p JOIN newestDestination d ON d.claimId = p.claimId WHERE p.destCopies > 1 AND p.mergeAction = 'stale'` +
          `) s ON ${TABLES.destination}.claimId = s.mergeKey ` +
          `WHEN MATCHED AND s.mergeAction = 'delete' THEN DELETE ` +
          `WHEN MATCHED THEN UPDATE SET ${cols.map((c) => `${c} = s.${c}`).join(', ')} ` +
          `WHEN NOT MATCHED AND s.mergeAction = 'upsert' THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})`,
      },
      {
        name: 'MERGE into tombstones',
        sql:
          `MERGE INTO ${TABLES.tombstones} USING (${plan} ` +
          `SELECT ${TOMBSTONE_COLUMNS.join(', ')}, ${now} AS deletedAt, 'apply' AS mergeRole, claimId AS mergeKey FROM plan WHERE mergeAction = 'delete' AND tombstoneCopies < 2 ` +
          `UNION ALL SELECT ${TOMBSTONE_COLUMNS.join(', ')}, ${now}, 'clear', claimId FROM plan WHERE tombstoneCopies > 1 ` +
          `UNION ALL SELECT ${TOMBSTONE_COLUMNS.join(', ')}, ${now}, 'reinsert', ${noKey} FROM plan WHERE tombstoneCopies > 1 AND mergeAction = 'delete' ` +
          `UNION ALL SELECT ${fromAlias('t', TOMBSTONE_COLUMNS)}, t.deletedAt, 'reinsert', ${noKey} FROM plan p JOIN newestTombstone t ON t.claimId = p.claimId WHERE p.tombstoneCopies > 1 AND p.mergeAction <> 'delete'` +
          `) s ON ${TABLES.tombstones}.claimId = s.mergeKey ` +
          `WHEN MATCHED AND s.mergeRole = 'clear' THEN DELETE ` +
          `WHEN MATCHED THEN UPDATE SET eventCreationUnixTime = s.eventCreationUnixTime, sequenceNumber = s.sequenceNumber, eventId = s.eventId, deletedAt = s.deletedAt ` +
          `WHEN NOT MATCHED AND s.mergeRole <> 'clear' THEN INSERT (claimId, eventCreationUnixTime, sequenceNumber, eventId, deletedAt) VALUES (s.claimId, s.eventCreationUnixTime, s.sequenceNumber, s.eventId, s.deletedAt)`,
      },
    ];
  }

  /**
   * Shape `table` (DuckDB): from the plan table, DELETE the rows a claim replaces, then INSERT the winners. A
   * claim's copies go with it (upsert, delete) except, when its event is stale, the newest copy, kept by rowid: the
   * duplicate repair falls out of the DELETE. The new rows are read from staging by rowid.
   */
  #applyByDeleteInsert(now: string): MergeStep[] {
    const cols = ALL_COLUMNS.map((c) => c.name).join(', ');
    const plan = MERGE_PLAN_TABLE;
    return [
      {
        name: 'DELETE replaced destination rows',
        sql:
          `DELETE FROM ${TABLES.destination} WHERE claimId IN (SELECT claimId FROM ${plan} WHERE mergeAction <> 'stale' OR destCopies > 1) ` +
          `AND rowid NOT IN (SELECT destRow FROM ${plan} WHERE mergeAction = 'stale' AND destCopies > 1 AND destRow IS NOT NULL)`,
      },
      {
        name: 'INSERT winners into destination',
        sql: `INSERT INTO ${TABLES.destination} (${cols}) SELECT ${cols} FROM ${TABLES.staging} WHERE rowid IN (SELECT stagedRow FROM ${plan} WHERE mergeAction = 'upsert')`,
      },
      {
        name: 'DELETE replaced tombstones',
        sql:
          `DELETE FROM ${TABLES.tombstones} WHERE claimId IN (SELECT claimId FROM ${plan} WHERE mergeAction = 'delete' OR tombstoneCopies > 1) ` +
          `AND rowid NOT IN (SELECT tombstoneRow FROM ${plan} WHERE mergeAction <> 'delete' AND tombstoneCopies > 1 AND tombstoneRow IS NOT NULL)`,
      },
      {
        name: 'INSERT tombstones',
        sql: `INSERT INTO ${TABLES.tombstones} (${TOMBSTONE_COLUMNS.join(', ')}, deletedAt) SELECT ${TOMBSTONE_COLUMNS.join(', ')}, ${now} FROM ${plan} WHERE mergeAction = 'delete'`,
      },
    ];
  }

  /**
   * One merge run, in order, to be run in ONE transaction (see `merge-run.ts`):
   * 0. claim: mark the staged rows present now with this run's id (rows staged later stay unclaimed);
   * 1. plan: build the plan table (shape `table` only; the `cte` shape has none);
   * 2. stats: counts for metrics (read before anything changes), `duplicates` among them, and the claimed events'
   *    creation-time percentiles the end-to-end freshness is computed from;
   * 3. apply: the newest event per claim into the destination (upsert or delete, stale ones skipped) and tombstones
   *    for the REMOVEs that won, duplicate keys of the run's claims repaired;
   * 4. delete exactly the claimed rows from staging.
   */
  merge(runId: string, nowIso: string): MergeStatements {
    if (!RUN_ID.test(runId)) throw new Error('merge run id must be a UUID');
    const now = this.timestamp(nowIso);
    const table = this.mergeShape === 'table';
    return {
      claim: `UPDATE ${TABLES.staging} SET ${MERGE_RUN_COLUMN} = '${runId}' WHERE ${MERGE_RUN_COLUMN} IS NULL`,
      plan: table ? [this.#planTable(runId)] : [],
      stats: table ? this.#stats(runId, '', MERGE_PLAN_TABLE) : this.#stats(runId, `${this.#planCte(runId)} `, 'plan'),
      apply: table ? this.#applyByDeleteInsert(now) : this.#applyByMerge(runId, now),
      deleteClaimed: `DELETE FROM ${TABLES.staging} WHERE ${MERGE_RUN_COLUMN} = '${runId}'`,
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
