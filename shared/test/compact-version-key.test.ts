/**
 * DuckDB's plan table ranks events by `Dialect.compactVersionKey` (the sequence number without its leading zeros,
 * behind its digit count) instead of the 148-character `versionKey`. This checks, on generated edge cases, that the
 * compact key followed by the event id sorts exactly as the in-memory order the merge rules define (version, then
 * event id), so the shorter key can never pick another winner.
 */
import fc from 'fast-check';
import { MAX_SEQUENCE_DIGITS, versionKey, type Versioned } from '../src/domain/merge-rules';
import { DIALECTS } from '../src/warehouse/dialect';
import { DuckDbWarehouse } from '../src/warehouse/duckdb';
import { openTestWarehouse } from '../test-support/warehouse';

const T = 1_732_000_000_123_000;
const digits = (min: number, max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
const micros = fc.oneof(fc.constantFrom(T, T + 1, T + 999, T + 1000, T - 1, 0, 1, 99_999_999_999_999_999), fc.integer({ min: T - 5000, max: T + 5000 }));
// Leading zeros included on purpose: '007' and '7' are one version, as in the padded key.
const sequence = fc.oneof(
  fc.constant(''),
  digits(1, 4),
  digits(55, 58),
  fc.constantFrom('0', '00', '9'.repeat(MAX_SEQUENCE_DIGITS), `1${'0'.repeat(MAX_SEQUENCE_DIGITS - 1)}`, `0${'9'.repeat(MAX_SEQUENCE_DIGITS - 1)}`),
  digits(120, MAX_SEQUENCE_DIGITS),
);
// Event ids that are prefixes of one another, so a key that is a prefix of another would show.
const eventId = fc.constantFrom('e', 'e1', 'e10', 'e2', 'f', '0', '00');
const event = fc.record({ eventCreationUnixTime: micros.map(String), sequenceNumber: sequence, eventId });

const inMemoryOrder = (a: Versioned & { eventId: string }, b: Versioned & { eventId: string }): number => {
  const [ka, kb] = [versionKey(a), versionKey(b)];
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0;
};

describe('the compact version key', () => {
  let warehouse: DuckDbWarehouse;
  beforeAll(async () => {
    warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
  });
  afterAll(() => warehouse.close());

  it('key || eventId sorts as (version, eventId) does in memory, leading zeros and prefixes included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 2, maxLength: 12 }), async (events) => {
        // Prepare
        const values = events.map((e, i) => `(${i}, '${e.eventCreationUnixTime}', '${e.sequenceNumber}', '${e.eventId}')`).join(', ');
        // Act
        const rows = await warehouse.query(
          `SELECT i FROM (VALUES ${values}) v(i, eventCreationUnixTime, sequenceNumber, eventId) ORDER BY ${DIALECTS.duckdb.compactVersionKey('v')} || eventId, i`,
        );
        // Assess
        const expected = events.map((e, i) => ({ e, i })).sort((a, b) => inMemoryOrder(a.e, b.e) || a.i - b.i);
        expect(rows.map((r) => r.i)).toEqual(expected.map((x) => x.i));
      }),
      { numRuns: 200, seed: 20261202 },
    );
  });

  it('equal versions get equal keys however many leading zeros the sequence number has', async () => {
    // Act
    const [row] = await warehouse.query(
      `SELECT COUNT(DISTINCT ${DIALECTS.duckdb.compactVersionKey('v')}) AS keys FROM (VALUES ('${T}', ''), ('${T}', '0'), ('${T}', '000')) v(eventCreationUnixTime, sequenceNumber)`,
    );
    // Assess
    expect(row?.keys).toBe(1);
  });
});
