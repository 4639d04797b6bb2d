/**
 * Records DynamoDB and Kinesis really send, which our generator never makes: impossible calendar dates, every
 * DynamoDB type, 38-digit numbers, 128-digit sequence numbers, precision switches. Issue 9's reproductions.
 */
import { fitsExactDecimal } from '../src/domain/attribute-value';
import { toChangeEvent } from '../src/domain/change-event';
import { checkRow } from '../src/domain/cell-rules';
import type { Claim } from '../src/domain/claim';
import type { ClaimRow } from '../src/domain/columns';
import { toClaimRow } from '../src/domain/flatten';
import { TABLES } from '../src/warehouse/tables';
import { changeRecord, claims, everyTypeAttributes, wire, rejection } from '../test-support/factories';
import { openTestWarehouse } from '../test-support/warehouse';

const [claim] = claims(1, 31) as [Claim];
const T = 1_732_000_000_123_000;
const NOW = Math.floor(T / 1000) + 60_000;

/** A decoded DynamoDB→Kinesis record whose NewImage is written attribute by attribute in DynamoDB JSON. */
const recordWithImage = (image: Record<string, unknown>, micros = T): Record<string, unknown> => {
  const record = changeRecord({ eventName: 'INSERT', claim, micros }) as { dynamodb: Record<string, unknown> };
  record.dynamodb.NewImage = image;
  return record;
};

describe('impossible calendar values are quarantined by field, never by value', () => {
  const cases: Array<[string, Partial<Claim>, string]> = [
    ['created_timestamp on 30 February', { created_timestamp: '2024-02-30T10:00:00.000000Z' }, 'created_timestamp'],
    ['created_timestamp at hour 25', { created_timestamp: '2024-02-10T25:00:00.000000Z' }, 'created_timestamp'],
    ['created_timestamp at second 60', { created_timestamp: '2024-02-10T23:59:60.000000Z' }, 'created_timestamp'],
    ['date_of_service on 29 February of a common year', { date_of_service: '2023-02-29' }, 'date_of_service'],
    ['bill_submit_date in month 13', { bill_submit_date: '2024-13-01' }, 'bill_submit_date'],
    ['date_of_birth on day 0', { patient: { ...claim.patient, date_of_birth: '1980-04-00' } }, 'patient.date_of_birth'],
  ];

  it.each(cases)('%s', (_name, change, field) => {
    // Prepare
    const record = changeRecord({ eventName: 'INSERT', claim: { ...claim, ...change }, micros: T });
    // Act
    const error = rejection(() => toChangeEvent(record, '1', NOW));
    // Assess
    expect(error.reason).toBe('claim-schema');
    expect(error.message).toContain(field);
    for (const value of Object.values(change)) expect(error.message).not.toContain(typeof value === 'string' ? value : '1980-04-00');
  });

  it('accepts 29 February of a leap year', () => {
    expect(() => toChangeEvent(changeRecord({ eventName: 'INSERT', claim: { ...claim, date_of_service: '2024-02-29' }, micros: T }), '1', NOW)).not.toThrow();
  });
});

describe('a row the warehouse would reject is refused with the column named (cell rules)', () => {
  const good = (): ClaimRow => toClaimRow(toChangeEvent(changeRecord({ eventName: 'INSERT', claim, micros: T, eventId: 'e' }), '7', NOW));
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['an impossible timestamp', { createdTimeStamp: '2024-02-30T10:00:00.000000Z' }, 'createdTimeStamp (created_timestamp)'],
    ['a timestamp in year 10000', { createdTimeStamp: '10000-01-01T00:00:00.000000Z' }, 'createdTimeStamp'],
    ['an integer beyond 2^53', { patientZip: 2 ** 60 }, 'patientZip (patient.zip)'],
    ['a fractional integer', { providerZip: 981.5 }, 'providerZip'],
    ['an infinite float', { totalCharge: Number.POSITIVE_INFINITY }, 'totalCharge'],
    ['two characters in VARCHAR(1)', { patientGender: 'MF' }, 'patientGender'],
    ['JSON that does not parse', { procedureDetails: '[{' }, 'procedureDetails'],
    ['a 129-digit sequence number', { sequenceNumber: '9'.repeat(129) }, 'sequenceNumber'],
    ['a 21-digit time', { eventCreationUnixTime: '1'.repeat(21) }, 'eventCreationUnixTime'],
  ];

  it.each(cases)('%s', (_name, change, column) => {
    // Act
    const error = rejection(() => checkRow({ ...good(), ...change } as ClaimRow));
    // Assess
    expect(error.reason).toBe('invalid-value');
    expect(error.detail.startsWith(column)).toBe(true);
    expect(error.message).not.toContain('2024-02-30');
  });

  it('accepts what the pipeline makes of a generated claim', () => {
    expect(() => checkRow(good())).not.toThrow();
  });
});

describe('every DynamoDB type survives exactly in rawImage', () => {
  const N38 = '12345678901234567890123456789012345678';
  const RATE = '0.12345678901234567890123456789012345678';
  const image = {
    ...wire(claim),
    total_charge: { N: '98765432109876543210987654321098765432' },
    ...everyTypeAttributes(),
    huge: { N: '9.9999999999999999999999999999999999999E+125' },
  };

  it('keeps numbers as their exact decimal text, sets and binary as arrays and base64, null as null', () => {
    // Act
    const row = toClaimRow(toChangeEvent(recordWithImage(image), '1', NOW));
    // Assess
    const raw = String(row.rawImage);
    expect(raw).toContain(`"ledger_ref":${N38}`);
    // Beyond NUMBER(38, 37), Snowflake's PARSE_JSON would round a number token to a double: such numbers are strings.
    expect(raw).toContain(`"rate":"${RATE}"`);
    expect(raw).toContain('"tiny":"1e-130"');
    expect(raw).toContain('"huge":"9.9999999999999999999999999999999999999e+125"');
    expect(raw).toContain('"total_charge":98765432109876543210987654321098765432');
    expect(raw).toContain('"codes":["A","B"]');
    expect(raw).toContain(`"amounts":[${N38},-0.5]`);
    expect(raw).toContain('"blob":"AAEC/w=="');
    expect(raw).toContain('"blobs":["AA==","/w=="]');
    expect(raw).toContain('"flag":false');
    expect(raw).toContain('"nothing":null');
    expect(raw).toContain('"empty_list":[]');
    expect(raw).toContain('"empty_map":{}');
    expect(raw).toContain(`"nested":{"deep":[${N38},{"x":null}]}`);
    expect(() => JSON.parse(raw)).not.toThrow();
    expect(row.totalCharge).toBe(9.876543210987654e37);
    expect(() => checkRow(row)).not.toThrow();
  });

  it('keeps 38-digit charges inside a known list exact in its JSON column', () => {
    // Prepare
    const procedures = { L: [{ M: { procedure_code: { S: '99213' }, description: { S: 'Office visit' }, charge: { N: N38 } } }] };
    // Act
    const row = toClaimRow(toChangeEvent(recordWithImage({ ...wire(claim), procedure_details: procedures }), '1', NOW));
    // Assess
    expect(row.procedureDetails).toBe(`[{"procedure_code":"99213","description":"Office visit","charge":${N38}}]`);
  });

  it('stores rawImage in the warehouse with every digit', async () => {
    // Prepare
    const warehouse = await openTestWarehouse({ path: ':memory:' });
    await warehouse.init();
    const row = toClaimRow(toChangeEvent(recordWithImage(image), '1', NOW));
    // Act
    await warehouse.stage([row]);
    await warehouse.merge();
    // Assess
    const [stored] = await warehouse.query(`SELECT rawImage FROM ${TABLES.destination}`);
    expect(String(stored?.rawImage)).toContain(`"rate":"${RATE}"`);
    expect(String(stored?.rawImage)).toContain(`"ledger_ref":${N38}`);
    await warehouse.close();
  });

  const malformed: Array<[string, Record<string, unknown>, string]> = [
    ['an N that is not a number', { bad: { N: '12abc' } }, 'bad'],
    ['two types in one value', { bad: { S: 'x', N: '1' } }, 'bad'],
    ['an empty string set', { bad: { SS: [] } }, 'bad'],
    ['a B that is not base64', { bad: { B: '***' } }, 'bad'],
    ['a nested bad value', { bad: { M: { inner: { L: [{ NULL: false }] } } } }, 'bad.inner[0]'],
    ['an unknown type', { bad: { X: 'y' } }, 'bad'],
  ];

  it.each(malformed)('rejects %s naming the attribute path', (_name, attrs, path) => {
    // Act
    const error = rejection(() => toChangeEvent(recordWithImage({ ...wire(claim), ...attrs }), '1', NOW));
    // Assess
    expect(error.reason).toBe('not-a-change-record');
    expect(error.detail).toContain(`NewImage.${path} is not a valid DynamoDB attribute value`);
  });
});

describe('event times: precision switches, missing precision, implausible values', () => {
  const withTime = (value: number, precision?: 'MILLISECOND' | 'MICROSECOND'): Record<string, unknown> => {
    const record = changeRecord({ eventName: 'INSERT', claim, micros: T }) as { dynamodb: Record<string, unknown> };
    record.dynamodb.ApproximateCreationDateTime = value;
    if (precision === undefined) delete record.dynamodb.ApproximateCreationDateTimePrecision;
    else record.dynamodb.ApproximateCreationDateTimePrecision = precision;
    return record;
  };

  it.each([
    ['microseconds, labelled', T, 'MICROSECOND', String(T)],
    ['milliseconds, labelled', T / 1000, 'MILLISECOND', String(T)],
    ['milliseconds, no field (streams older than the field)', T / 1000, undefined, String(T)],
    ['microseconds, no field', T + 456, undefined, String(T + 456)],
  ] as const)('reads %s', (_name, value, precision, micros) => {
    expect(toChangeEvent(withTime(value, precision), '1', NOW).eventCreationUnixTime).toBe(micros);
  });

  it.each([
    ['more than a day in the future', (NOW + 25 * 3600 * 1000) * 1000, 'MICROSECOND'],
    ['before DynamoDB existed (a millisecond value labelled MICROSECOND)', T / 1000, 'MICROSECOND'],
    ['a microsecond value labelled MILLISECOND', T, 'MILLISECOND'],
  ] as const)('rejects a time %s', (_name, value, precision) => {
    expect(rejection(() => toChangeEvent(withTime(value, precision), '1', NOW)).reason).toBe('implausible-time');
  });

  it('rejects a sequence number longer than 128 digits or not decimal', () => {
    expect(rejection(() => toChangeEvent(withTime(T, 'MICROSECOND'), '1'.repeat(129), NOW)).reason).toBe('bad-sequence-number');
    expect(rejection(() => toChangeEvent(withTime(T, 'MICROSECOND'), '12a', NOW)).reason).toBe('bad-sequence-number');
  });
});

describe('one total order in the warehouse, for every record AWS can send', () => {
  const seq = (digits: number, last = '0'): string => `4${'9'.repeat(digits - 2)}${last}`;
  type Event = { name: 'INSERT' | 'MODIFY' | 'REMOVE'; status: Claim['claim_status']; value: number; precision?: 'MILLISECOND' | 'MICROSECOND'; seq: string };
  const scenarios: Array<{ name: string; events: Event[]; expected: Claim['claim_status'] | 'absent' }> = [
    {
      name: 'sequence numbers of 64 and 65 digits: the 65-digit (newer) one wins',
      events: [
        { name: 'INSERT', status: 'Submitted', value: T, precision: 'MICROSECOND', seq: seq(64) },
        { name: 'MODIFY', status: 'Paid', value: T, precision: 'MICROSECOND', seq: `1${'0'.repeat(64)}` },
      ],
      expected: 'Paid',
    },
    {
      name: 'two 128-digit sequence numbers that differ only in the last digit',
      events: [
        { name: 'INSERT', status: 'Submitted', value: T, precision: 'MICROSECOND', seq: seq(128, '1') },
        { name: 'MODIFY', status: 'Approved', value: T, precision: 'MICROSECOND', seq: seq(128, '2') },
      ],
      expected: 'Approved',
    },
    {
      name: 'INSERT at µs T+700, REMOVE in the same millisecond sent with millisecond precision: the REMOVE wins',
      events: [
        { name: 'INSERT', status: 'Submitted', value: T + 700, precision: 'MICROSECOND', seq: '100' },
        { name: 'REMOVE', status: 'Submitted', value: T / 1000, precision: 'MILLISECOND', seq: '101' },
      ],
      expected: 'absent',
    },
    {
      name: 'a microsecond value without the precision field does not pin the claim',
      events: [
        { name: 'INSERT', status: 'Submitted', value: T + 1, seq: '100' },
        { name: 'MODIFY', status: 'Rejected', value: T + 2000, precision: 'MICROSECOND', seq: '101' },
      ],
      expected: 'Rejected',
    },
    {
      name: 'equal times: the sequence number breaks the tie',
      events: [
        { name: 'MODIFY', status: 'Paid', value: T, precision: 'MICROSECOND', seq: '201' },
        { name: 'INSERT', status: 'Submitted', value: T, precision: 'MICROSECOND', seq: '200' },
      ],
      expected: 'Paid',
    },
    {
      name: 'a later millisecond wins over a larger sequence number',
      events: [
        { name: 'MODIFY', status: 'Approved', value: T / 1000 + 1, precision: 'MILLISECOND', seq: '5' },
        { name: 'MODIFY', status: 'Rejected', value: T + 999, precision: 'MICROSECOND', seq: '9'.repeat(128) },
      ],
      expected: 'Approved',
    },
  ];

  const rowOf = (event: Event, i: number): ClaimRow => {
    const record = changeRecord({ eventName: event.name, claim: { ...claim, claim_status: event.status }, micros: T, eventId: `e${i}` }) as { dynamodb: Record<string, unknown> };
    record.dynamodb.ApproximateCreationDateTime = event.value;
    if (event.precision === undefined) delete record.dynamodb.ApproximateCreationDateTimePrecision;
    else record.dynamodb.ApproximateCreationDateTimePrecision = event.precision;
    return toClaimRow(toChangeEvent(record, event.seq, NOW));
  };

  describe.each(scenarios)('$name', ({ events, expected }) => {
    it.each([
      ['in one batch', 'one'],
      ['across merges, in order', 'split'],
      ['across merges, newest first', 'reversed'],
    ])('%s', async (_name, how) => {
      // Prepare
      const warehouse = await openTestWarehouse({ path: ':memory:' });
      await warehouse.init();
      const rows = events.map(rowOf);
      // Act
      if (how === 'one') await warehouse.stage(rows);
      for (const r of how === 'split' ? rows : how === 'reversed' ? [...rows].reverse() : []) {
        await warehouse.stage([r]);
        await warehouse.merge();
      }
      await warehouse.merge();
      // Assess
      const found = await warehouse.query(`SELECT claimStatus FROM ${TABLES.destination} WHERE claimId = '${claim.claim_id}'`);
      expect(found).toEqual(expected === 'absent' ? [] : [{ claimStatus: expected }]);
      await warehouse.close();
    });
  });
});
