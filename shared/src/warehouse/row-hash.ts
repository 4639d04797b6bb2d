/**
 * The row hash of `domain/row-hash.ts` as SQL, for each dialect, derived from the same registry columns and rules:
 * DuckDB `sha256(...)` and Snowflake `SHA2(..., 256)` (both lowercase hex of the UTF-8 text). Only public `Dialect`
 * members are used (`name`, `type`), so the dialect's internals can change freely.
 */
import { type ColumnSpec } from '../domain/columns';
import { FIELD_SEPARATOR, FLOAT_LIMIT, FLOAT_SCALE, HASHED_COLUMNS, NULL_FIELD, RowHashError } from '../domain/row-hash';
import type { Dialect } from './dialect';
import { TABLES } from './tables';

// The domain's constants as SQL double literals (scientific notation is a double in both dialects).
const SCALE = FLOAT_SCALE.toExponential();
const LIMIT = FLOAT_LIMIT.toExponential();

/** The canonical text of `ref` (a column of `column`'s type) in `dialect`, NULL for NULL. */
export const canonicalSql = (dialect: Dialect, column: ColumnSpec, ref: string): string => {
  const snowflake = dialect.name === 'snowflake';
  switch (column.type) {
    case 'STRING':
    case 'VARCHAR1':
      return ref;
    case 'INTEGER':
      return snowflake ? `TO_VARCHAR(${ref})` : `CAST(${ref} AS VARCHAR)`;
    case 'FLOAT': {
      const scaled = `ROUND(${ref} * ${SCALE})`;
      const digits = snowflake ? `TO_VARCHAR(CAST(${scaled} AS NUMBER(38, 0)))` : `CAST(CAST(${scaled} AS DECIMAL(38, 0)) AS VARCHAR)`;
      return `CASE WHEN ${ref} IS NULL THEN NULL WHEN ABS(${ref} * ${SCALE}) < ${LIMIT} THEN ${digits} WHEN ${ref} < 0 THEN '~big-' ELSE '~big+' END`;
    }
    case 'TIMESTAMP_NTZ':
      return snowflake ? `TO_VARCHAR(${ref}, 'YYYY-MM-DD HH24:MI:SS.FF6')` : `strftime(${ref}, '%Y-%m-%d %H:%M:%S.%f')`;
    case 'JSON':
      throw new RowHashError(`${column.name}: JSON columns are not hashed`);
  }
};

/** The field of `ref`: escaped canonical text, or the NULL field. */
export const fieldSql = (dialect: Dialect, column: ColumnSpec, ref: string): string =>
  `COALESCE(REPLACE(REPLACE(${canonicalSql(dialect, column, ref)}, '~', '~~'), '${FIELD_SEPARATOR}', '~${FIELD_SEPARATOR}'), '${NULL_FIELD}')`;

const sha256Sql = (dialect: Dialect, text: string): string => (dialect.name === 'snowflake' ? `SHA2(${text}, 256)` : `sha256(${text})`);

/** The row hash of the row aliased `alias`, as one SQL expression. */
export const rowHashSql = (dialect: Dialect, alias: string): string =>
  sha256Sql(dialect, HASHED_COLUMNS.map((c) => fieldSql(dialect, c, `${alias}.${c.name}`)).join(` || '${FIELD_SEPARATOR}' || `));

/**
 * Every destination row's claim id and row hash (nothing else leaves the warehouse). Aliases are quoted so both
 * dialects return them in this case (Snowflake upper-cases unquoted names).
 */
export const destinationHashQuery = (dialect: Dialect): string => `SELECT d.claimId AS "claimId", ${rowHashSql(dialect, 'd')} AS "rowHash" FROM ${TABLES.destination} d`;

/** The claims with changes staged but not merged yet (in flight: not drift). */
export const stagedClaimsQuery = (): string => `SELECT DISTINCT claimId AS "claimId" FROM ${TABLES.staging}`;

/** A string literal, quoted for the dialect (Snowflake also reads backslash escapes in literals). */
export const stringLiteral = (dialect: Dialect, text: string): string =>
  `'${(dialect.name === 'snowflake' ? text.replaceAll('\\', '\\\\') : text).replaceAll("'", "''")}'`;

/** Per hashed column, the hash of its field (`h_<column>`), for the destination rows of `claimIds`. */
export const destinationColumnHashQuery = (dialect: Dialect, claimIds: readonly string[]): string => {
  if (claimIds.length === 0) throw new RowHashError('no claim ids');
  const columns = HASHED_COLUMNS.map((c) => `${sha256Sql(dialect, fieldSql(dialect, c, `d.${c.name}`))} AS "h_${c.name}"`).join(', ');
  return `SELECT d.claimId AS "claimId", ${columns} FROM ${TABLES.destination} d WHERE d.claimId IN (${claimIds.map((id) => stringLiteral(dialect, id)).join(', ')})`;
};
