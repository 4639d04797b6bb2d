/**
 * Warehouse errors carry no values: real DuckDB failures on a row holding PHI, and Snowflake-shaped server
 * messages, all go through the one scrub and keep their kind and wording.
 */
import { TABLES } from '../src/warehouse/tables';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { WarehouseError } from '../src/warehouse/port';
import { scrubWarehouseMessage } from '../src/warehouse/scrub';
import { warehouseError } from '../src/warehouse/snowflake-session';
import { openTestWarehouse } from '../test-support/warehouse';

const PHI = { first: 'Zebulon4', last: "O'Brien-Smith", email: 'zeb.obrien@example.com', member: '8812345678', phone: '555-867-5309' };
const PHI_FRAGMENTS = ['Zebulon', 'Brien', 'zeb.obrien', '8812345678', '867-5309'];

describe('DuckDB query errors', () => {
  let warehouse: DuckDbWarehouse;

  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    await warehouse.query(
      `INSERT INTO ${TABLES.destination} (claimId, patientFirstName, patientLastName, patientEmail, memberId, patientPhone) ` +
        `VALUES ('CLM-00000001', '${PHI.first}', '${PHI.last.replace(/'/g, "''")}', '${PHI.email}', '${PHI.member}', '${PHI.phone}')`,
    );
  });

  afterAll(() => warehouse.close());

  it.each([
    ['a failed cast of a name', `SELECT CAST(patientFirstName AS INTEGER) FROM ${TABLES.destination}`, /^Conversion Error: Could not convert string '…' to INT32 when casting from source column patientFirstName$/],
    ['a failed cast of a name with a quote in it', `SELECT CAST(patientLastName AS INTEGER) FROM ${TABLES.destination}`, /^Conversion Error: Could not convert string '…' to INT32/],
    ['a failed cast of an email to a date', `SELECT CAST(patientEmail AS DATE) FROM ${TABLES.destination}`, /^Conversion Error: invalid date field format: "…"/],
    ['a failed cast of a name to JSON', `SELECT CAST(patientFirstName AS JSON) FROM ${TABLES.destination}`, /^Conversion Error: Malformed JSON/],
    ['strptime, which echoes its input on a line of its own', `SELECT strptime(patientFirstName, '%Y') FROM ${TABLES.destination}`, /^Invalid Input Error: Could not parse string "…"/],
    ['a member id too large for a small integer', `SELECT CAST(memberId AS SMALLINT) FROM ${TABLES.destination}`, /^Conversion Error: Could not convert string '…' to INT16/],
    ['a literal in the statement echoed on the LINE context', `SELECT * FROM ${TABLES.destination} WHERE patientFirstName = '${PHI.first}' + 1`, /^Binder Error: /],
  ])('%s: a WarehouseError on one line, with the kind and no value', async (_name, sql, expected) => {
    // Act
    const error = await warehouse.query(sql).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Assess
    expect(error).toBeInstanceOf(WarehouseError);
    const { message } = error as Error;
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
    expect(message).not.toMatch(/LINE \d+:/);
    for (const fragment of PHI_FRAGMENTS) expect(message).not.toContain(fragment);
  });

  it('names in errors raised before any row is read stay, so the error still says what is wrong', async () => {
    // Act
    const error = (await warehouse.query(`SELECT nope FROM ${TABLES.destination}`).catch((e: unknown) => e)) as Error;
    // Assess
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error.message).toMatch(/^Binder Error: Referenced column "nope" not found in FROM clause!/);
  });

  it('a failed open names the file and carries the scrubbed reason', async () => {
    // Act
    const error = (await openTestWarehouse({ path: '/proc/no/such/dir/x.duckdb', readOnly: true }).catch((e: unknown) => e)) as Error;
    // Assess
    expect(error).toBeInstanceOf(WarehouseError);
    expect(error.message).toMatch(/^cannot open warehouse \/proc\/no\/such\/dir\/x\.duckdb: IO Error: /);
    expect(error.message).not.toContain('\n');
  });
});

describe('scrubWarehouseMessage', () => {
  it.each([
    ["Snowflake's conversion error", "Numeric value 'Smith' is not recognized", "Numeric value '…' is not recognized"],
    ["Snowflake's duplicate-row dump", `Duplicate row detected during DML action Row Values: ["${PHI.first}", "${PHI.email}", 94107]`, 'Duplicate row detected during DML action'],
    ['a quote DuckDB did not escape', `Could not convert string '${PHI.last}' to INT32`, "Could not convert string '…' to INT32"],
    ['a message cut inside a quote', `Invalid Input Error: value '${PHI.first} and more`, "Invalid Input Error: value '…'"],
    ['a double-quoted key', `Constraint Error: Duplicate key "patientEmail: ${PHI.email}" violates primary key constraint.`, 'Constraint Error: Duplicate key "…" violates primary key constraint.'],
    ['an unquoted long number', `member ${PHI.member} not found`, 'member # not found'],
    ['a caret under an echoed line', `Invalid Input Error: Could not parse\n${PHI.first}\n     ^\nError: Expected a number`, 'Invalid Input Error: Could not parse Error: Expected a number'],
    ['a double-quoted value in an error raised while rows are read', `Conversion Error: invalid timestamp field format: "${PHI.first}", expected format is (YYYY-MM-DD)`, 'Conversion Error: invalid timestamp field format: "…", expected format is (YYYY-MM-DD)'],
    ['a quoted non-name in a parser error', `Parser Error: syntax error at or near "'${PHI.email}'"`, 'Parser Error: syntax error at or near "…"'],
  ])('%s', (_name, message, expected) => {
    // Act
    const scrubbed = scrubWarehouseMessage(message);
    // Assess
    expect(scrubbed).toBe(expected);
  });

  it('caps the length at 300 characters', () => {
    // Act
    const scrubbed = scrubWarehouseMessage(`Catalog Error: ${'x'.repeat(1000)}`);
    // Assess
    expect(scrubbed).toHaveLength(300);
  });

  it('is what the Snowflake adapter applies to server messages', () => {
    // Prepare: a DuckDB-shaped message (never sent by Snowflake) tells this scrub from any other.
    const message = `Invalid Input Error: Could not parse\n${PHI.first}\n^\nError: x 'y'`;
    // Act
    const error = warehouseError('merge: MERGE into destination', { code: '100038', message });
    // Assess
    expect(error.message).toBe(`snowflake merge: MERGE into destination failed (code 100038): ${scrubWarehouseMessage(message)}`);
    expect(error.message).toBe("snowflake merge: MERGE into destination failed (code 100038): Invalid Input Error: Could not parse Error: x '…'");
  });
});
