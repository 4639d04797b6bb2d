/**
 * The version order exists once (merge-rules `VERSION_PARTS`); the SQL of both dialects is built from it. This runs
 * the DuckDB SQL and the in-memory key side by side on generated edge cases, and checks the Snowflake text uses the
 * same parts, so the oracle and the warehouse can never disagree again (issue 9 §3: they did on 128-digit numbers).
 */
import fc from 'fast-check';
import { MAX_SEQUENCE_DIGITS, versionKey, type Versioned } from '../src/domain/merge-rules';
import { DIALECTS } from '../src/warehouse/dialect';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { openTestWarehouse } from '../test-support/warehouse';

const T = 1_732_000_000_123_000;
const digits = (min: number, max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join('').replace(/^0+(?=\d)/, ''));
const micros = fc.oneof(
  fc.constantFrom(T, T + 1, T + 700, T + 999, T + 1000, T - 1, Math.floor(T / 1000) * 1000),
  fc.integer({ min: T - 5000, max: T + 5000 }),
);
const sequence = fc.oneof(
  fc.constant(''),
  digits(1, 20),
  digits(60, 66),
  fc.constantFrom('9'.repeat(MAX_SEQUENCE_DIGITS), `${'9'.repeat(MAX_SEQUENCE_DIGITS - 1)}8`, `1${'0'.repeat(MAX_SEQUENCE_DIGITS - 1)}`, `4${'9'.repeat(63)}`, `1${'0'.repeat(64)}`),
  digits(120, MAX_SEQUENCE_DIGITS),
);
const version = fc.record({ eventCreationUnixTime: micros.map(String), sequenceNumber: sequence });

describe('the version order: SQL and memory from one definition', () => {
  let warehouse: DuckDbWarehouse;
  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
  });
  afterAll(() => warehouse.close());

  it('DuckDB computes exactly the in-memory key for generated edge cases, so both sort alike', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(version, { minLength: 2, maxLength: 12 }), async (versions: Versioned[]) => {
        // Act
        const values = versions.map((v, i) => `(${i}, '${v.eventCreationUnixTime}', '${v.sequenceNumber}')`).join(', ');
        const rows = await warehouse.query(`SELECT i, ${DIALECTS.duckdb.versionKey('v')} AS k FROM (VALUES ${values}) v(i, eventCreationUnixTime, sequenceNumber) ORDER BY k, i`);
        // Assess
        const expected = versions.map((v, i) => ({ i, k: versionKey(v) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i));
        expect(rows).toEqual(expected);
      }),
      { numRuns: 150, seed: 20261201 },
    );
  });

  it.each([
    ['a 65-digit sequence number is newer than a 64-digit one', { eventCreationUnixTime: String(T), sequenceNumber: `4${'9'.repeat(63)}` }, { eventCreationUnixTime: String(T), sequenceNumber: `1${'0'.repeat(64)}` }],
    ['128-digit numbers differing in the last digit', { eventCreationUnixTime: String(T), sequenceNumber: `${'9'.repeat(127)}1` }, { eventCreationUnixTime: String(T), sequenceNumber: `${'9'.repeat(127)}2` }],
    ['a millisecond record after a microsecond one in the same millisecond (by sequence)', { eventCreationUnixTime: String(T + 700), sequenceNumber: '100' }, { eventCreationUnixTime: String(T), sequenceNumber: '101' }],
    ['a later millisecond, whatever the sequence numbers', { eventCreationUnixTime: String(T + 999), sequenceNumber: '9'.repeat(128) }, { eventCreationUnixTime: String(T + 1000), sequenceNumber: '1' }],
    ['equal times and sequence numbers: the microseconds', { eventCreationUnixTime: String(T + 1), sequenceNumber: '' }, { eventCreationUnixTime: String(T + 2), sequenceNumber: '' }],
  ])('orders %s (literal expectation)', (_name, older, newer) => {
    expect(versionKey(older) < versionKey(newer)).toBe(true);
  });

  it('the Snowflake expression is the DuckDB one: the same parts, widths and slices', () => {
    // Both dialects must slice the same padded fields; only identifiers could ever differ, and they do not.
    expect(DIALECTS.snowflake.versionKey('x')).toBe(DIALECTS.duckdb.versionKey('x'));
    expect(DIALECTS.snowflake.versionKey('x')).toBe(
      "SUBSTR(LPAD(COALESCE(x.eventCreationUnixTime, ''), 20, '0'), 1, 17) || SUBSTR(LPAD(COALESCE(x.sequenceNumber, ''), 128, '0'), 1, 128) || SUBSTR(LPAD(COALESCE(x.eventCreationUnixTime, ''), 20, '0'), 18, 3)",
    );
  });
});
