import { CLAIM_COLUMNS, type ClaimRow } from '@claims-cdc/shared/domain/columns';
import { canonicalRow, columnHashes, HASHED_COLUMNS, rowHash } from '@claims-cdc/shared/domain/row-hash';
import { claims, row } from '@claims-cdc/shared/test-support/factories';
import { DIALECTS } from '@claims-cdc/shared/warehouse/dialect';
import { DuckDbWarehouse } from '@claims-cdc/shared/warehouse/duckdb';
import { destinationColumnHashQuery, destinationHashQuery, rowHashSql } from '@claims-cdc/shared/warehouse/row-hash';
import { openTestWarehouse } from '@claims-cdc/shared/test-support/warehouse';

const T = 1_732_000_000_000_000;
const THIRTY_EIGHT_DIGITS = '12345678901234567890123456789012345678';

/** Factory rows with one column set to an edge value each (the rest generated), as the flattened item side sees them. */
const EDGES: ReadonlyArray<readonly [string, Readonly<ClaimRow>]> = [
  ['nulls in every nullable column', Object.fromEntries(HASHED_COLUMNS.filter((c) => c.name !== 'claimId').map((c) => [c.name, null]))],
  ['empty strings', { patientFirstName: '', patientStreet: '', payerName: '' }],
  ['text that looks like the null field and the escapes', { patientFirstName: '~N', patientLastName: 'a|b', patientStreet: '~|~~|', providerName: '|' }],
  ['quotes and backslashes', { patientStreet: "O'Brien \\ Rd", providerStreet: '\\\\|\'' }],
  ['unicode', { patientFirstName: 'Zoë 😀', patientCity: '東京', providerCity: 'Zürich', patientGender: 'é', payerName: 'Ωmega\u0000' }],
  ['a 38-digit float', { totalCharge: Number(THIRTY_EIGHT_DIGITS) }],
  ['a negative 38-digit float', { totalCharge: -Number(THIRTY_EIGHT_DIGITS) }],
  ['a float beyond NUMBER(38)', { totalCharge: 1.5e40 }],
  ['a float whose microunits leave NUMBER(38)', { totalCharge: 1e32 }],
  ['a float whose microunits just fit NUMBER(38)', { totalCharge: 9.99e31 }],
  ['a large float with a fraction', { totalCharge: 123_456_789_012_345.67 }],
  ['a float beyond 2^53', { totalCharge: 12_345_678_901_234_567 }],
  ['a float near a rounding midpoint', { totalCharge: 1234.5678905 }],
  ['an inexact sum', { totalCharge: 0.1 + 0.2 }],
  ['a float halfway at the 7th decimal', { totalCharge: 0.0078125 }],
  ['a negative float halfway at the 7th decimal', { totalCharge: -0.0078125 }],
  ['a tiny negative float', { totalCharge: -1e-9 }],
  ['money', { totalCharge: 1234.56 }],
  ['38-digit numbers in a JSON column', { procedureDetails: `[{"charge":${THIRTY_EIGHT_DIGITS},"procedure_code":"99213"}]`, diagnosisCodes: `[${THIRTY_EIGHT_DIGITS}]` }],
  ['integers at ±2^53', { patientZip: Number.MAX_SAFE_INTEGER, providerZip: Number.MIN_SAFE_INTEGER }],
  ['a timestamp with nanoseconds', { createdTimeStamp: '2024-02-29T23:59:59.123456789Z' }],
  ['a timestamp without a fraction', { createdTimeStamp: '2024-01-02T03:04:05Z' }],
  ['a timestamp in year 1', { createdTimeStamp: '0001-01-01T00:00:00.5Z' }],
  ['a timestamp in year 9999', { createdTimeStamp: '9999-12-31T23:59:59.999999Z' }],
];

const edgeRows = (): ClaimRow[] => {
  const generated = claims(EDGES.length + 5, 11);
  return generated.map((claim, i) => ({ ...row({ eventName: 'INSERT', claim, micros: T + i, eventId: `h${i}` }), ...(EDGES[i]?.[1] ?? {}) }));
};

describe('row hash: item side (TypeScript) and DuckDB compute the same hash', () => {
  let warehouse: DuckDbWarehouse;
  const rows = edgeRows();

  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    await warehouse.stage(rows);
    await warehouse.merge();
  });
  afterAll(async () => warehouse.close());

  it('for every row, the destination row hash is the item-side hash', async () => {
    // Act
    const destination = new Map((await warehouse.query(destinationHashQuery(DIALECTS.duckdb))).map((r) => [String(r.claimId), r.rowHash]));
    // Assess: every row, edge cases and plain generated ones
    expect(destination.size).toBe(rows.length);
    const mismatched = rows.filter((r) => destination.get(String(r.claimId)) !== rowHash(r)).map((r) => r.claimId);
    expect(mismatched).toEqual([]);
  });

  it.each(EDGES.map(([name], i) => [name, i] as const))('%s: per-column hashes agree too', async (_name, i) => {
    // Prepare
    const item = rows[i] as ClaimRow;
    // Act
    const [destination] = await warehouse.query(destinationColumnHashQuery(DIALECTS.duckdb, [String(item.claimId)]));
    // Assess
    const expected = columnHashes(item);
    expect(Object.fromEntries(HASHED_COLUMNS.map((c) => [c.name, destination?.[`h_${c.name}`]]))).toEqual(expected);
  });

  it('a claim id with a quote is a literal, not SQL', async () => {
    // Act
    const found = await warehouse.query(destinationColumnHashQuery(DIALECTS.duckdb, ["x' OR '1'='1"]));
    // Assess
    expect(found).toEqual([]);
  });
});

describe('row hash: what it tells apart', () => {
  const [base] = edgeRows().slice(EDGES.length);

  it.each(HASHED_COLUMNS.map((c) => [c.name, c.type] as const))('a change in %s (%s) changes the hash and names the column', (name) => {
    // Prepare
    const value = (base as ClaimRow)[name];
    const changed: ClaimRow = { ...(base as ClaimRow), [name]: typeof value === 'number' ? value + 1 : value === null ? 'x' : name === 'createdTimeStamp' ? '2001-01-01T00:00:00.000001Z' : `${value}x` };
    // Act
    const before = columnHashes(base as ClaimRow);
    const after = columnHashes(changed);
    // Assess
    expect(rowHash(changed)).not.toBe(rowHash(base as ClaimRow));
    expect(HASHED_COLUMNS.filter((c) => before[c.name] !== after[c.name]).map((c) => c.name)).toEqual([name]);
  });

  it.each([
    ['NULL and the empty string', null, ''],
    ['NULL and the text of the null field', null, '~N'],
    ['a separator moved between two fields', 'a|', 'a'],
  ])('%s hash differently', (_name, a, b) => {
    // Prepare: for the moved separator, the next field takes what the first lost
    const first = { ...(base as ClaimRow), patientFirstName: a, patientLastName: 'z' };
    const second = { ...(base as ClaimRow), patientFirstName: b, patientLastName: a === 'a|' ? '|z' : 'z' };
    // Assess
    expect(canonicalRow(first)).not.toBe(canonicalRow(second));
    expect(rowHash(first)).not.toBe(rowHash(second));
  });

  it('event metadata is not hashed (a snapshot and the stream event of one image match)', () => {
    // Prepare
    const snapshot = { ...(base as ClaimRow), eventName: 'SNAPSHOT', eventCreationUnixTime: '1', eventId: 'other', sequenceNumber: '', rawImage: '{}' };
    // Assess
    expect(rowHash(snapshot)).toBe(rowHash(base as ClaimRow));
    expect(HASHED_COLUMNS.map((c) => c.name)).toEqual(CLAIM_COLUMNS.slice(2).map((c) => c.name));
  });

  it('canonical text of known values, literally', () => {
    // Prepare: a row whose hashed columns are all NULL but three
    const sparse: ClaimRow = Object.fromEntries(HASHED_COLUMNS.map((c) => [c.name, null]));
    Object.assign(sparse, { claimId: 'CLM-0000000A', totalCharge: 1234.5, createdTimeStamp: '2024-01-02T03:04:05.1234567Z', patientZip: 2134, patientFirstName: 'a|~b' });
    // Assess
    expect(canonicalRow(sparse)).toBe(
      'CLM-0000000A|~N|~N|1234500000|~N|~N|~N|2134|~N|~N|~N|~N|~N|~N|~N|a~|~~b|~N|~N|2024-01-02 03:04:05.123456|~N|~N|~N|~N|~N|~N|~N|~N|~N|~N|~N',
    );
    expect(rowHash(sparse)).toBe('6b7362b7084b922d53baab25312a07a42545b2639d61511dce4e186bd2c79049');
  });
});

describe('row hash: Snowflake SQL', () => {
  it('is derived from the registry, one field per column, literally', () => {
    // Act
    const sql = rowHashSql(DIALECTS.snowflake, 'd');
    // Assess: the start (claimId, diagnosisCodes, dateOfService, totalCharge, procedureDetails) and the timestamp field
    expect(sql.startsWith(
      "SHA2(COALESCE(REPLACE(REPLACE(d.claimId, '~', '~~'), '|', '~|'), '~N') || '|' || " +
        "COALESCE(REPLACE(REPLACE(d.diagnosisCodes, '~', '~~'), '|', '~|'), '~N') || '|' || " +
        "COALESCE(REPLACE(REPLACE(d.dateOfService, '~', '~~'), '|', '~|'), '~N') || '|' || " +
        "COALESCE(REPLACE(REPLACE(CASE WHEN d.totalCharge IS NULL THEN NULL WHEN ABS(d.totalCharge * 1e+6) < 1e+38 " +
        "THEN TO_VARCHAR(CAST(ROUND(d.totalCharge * 1e+6) AS NUMBER(38, 0))) WHEN d.totalCharge < 0 THEN '~big-' ELSE '~big+' END, '~', '~~'), '|', '~|'), '~N') || '|' || " +
        "COALESCE(REPLACE(REPLACE(d.procedureDetails, '~', '~~'), '|', '~|'), '~N') || '|' || ",
    )).toBe(true);
    expect(sql).toContain("COALESCE(REPLACE(REPLACE(TO_VARCHAR(d.patientZip), '~', '~~'), '|', '~|'), '~N')");
    expect(sql).toContain("COALESCE(REPLACE(REPLACE(TO_VARCHAR(d.createdTimeStamp, 'YYYY-MM-DD HH24:MI:SS.FF6'), '~', '~~'), '|', '~|'), '~N')");
    expect(sql.endsWith("COALESCE(REPLACE(REPLACE(d.paymentStatus, '~', '~~'), '|', '~|'), '~N'), 256)")).toBe(true);
    expect(sql.split(" || '|' || ")).toHaveLength(30);
  });

  it('the destination query and a claim id literal with a quote and a backslash', () => {
    // Act
    const query = destinationColumnHashQuery(DIALECTS.snowflake, ["CLM-'\\"]);
    // Assess
    expect(query.startsWith('SELECT d.claimId AS "claimId", SHA2(COALESCE(REPLACE(REPLACE(d.claimId, \'~\', \'~~\'), \'|\', \'~|\'), \'~N\'), 256) AS "h_claimId", ')).toBe(true);
    expect(query.endsWith(` FROM openflow_insclaim_dest_tbl d WHERE d.claimId IN ('CLM-''\\\\')`)).toBe(true);
    expect(destinationHashQuery(DIALECTS.snowflake)).toMatch(/^SELECT d\.claimId AS "claimId", SHA2\(.*, 256\) AS "rowHash" FROM openflow_insclaim_dest_tbl d$/);
  });
});
