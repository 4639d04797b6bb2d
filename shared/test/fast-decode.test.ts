/**
 * The transform's fast path against the reference decoder (zod schemas → registry flatten → cell rules), on real and
 * generated records mutated in every way we know a stream record can be odd. For every input the fast path must
 * either write byte-for-byte the reference's row, or hand the record back (undefined) — it must never accept what
 * the reference rejects, nor write a different row. The reference is the oracle; nothing here computes a row itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { RecordRejectedError } from '../src/domain/errors';
import { fastRowJson } from '../src/domain/fast-decode';
import { kinesisRowJson, referenceRowJson } from '../src/domain/kinesis-row';
import { alteredClaim, changeRecord, claims, everyTypeAttributes, millisecondRecord, wire } from '../test-support/factories';

type Json = Record<string, unknown>;

const T = 1_732_000_000_123_456;
const NOW = Math.floor(T / 1000) + 60_000;
const MAX = 262_144;
const N38 = '12345678901234567890123456789012345678';
const sample = claims(12, 77);

const FIXTURE = join(__dirname, 'fixtures', 'kinesis-dynamodb-stream.powertools.json');
const fixtureRecords = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { Records: Array<{ kinesis: { data: string } }> }).Records.map(
  (r) => JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')) as Json,
);

/** A claim image carrying every DynamoDB type beside the claim's own attributes (as in real-records.test.ts). */
const everyType = (): Json => {
  const record = changeRecord({ eventName: 'INSERT', claim: sample[1]!, micros: T }) as { dynamodb: Json };
  record.dynamodb.NewImage = {
    ...(wire(sample[1]!) as Json),
    ...(everyTypeAttributes() as Json),
  };
  return record as Json;
};

/** Records the fast path must take as they are: generated claims, every kind of change and precision. */
const ordinary: Json[] = [
  ...sample.slice(0, 4).map((claim, i) => changeRecord({ eventName: 'INSERT', claim, micros: T + i })),
  ...sample.slice(4, 8).map((claim, i) => changeRecord({ eventName: 'MODIFY', claim, micros: T + i }, sample[(i + 1) % 4])),
  ...sample.slice(8, 10).map((claim, i) => changeRecord({ eventName: 'REMOVE', claim, micros: T + i })),
  millisecondRecord({ eventName: 'MODIFY', claim: sample[10]!, micros: T }),
  { ...changeRecord({ eventName: 'INSERT', claim: alteredClaim(sample[11], { adjuster_notes: 'call "back" \u00e9\u2028 later', scores: [1, 2.5, -3] }), micros: T }) },
];
/** Records the mutations start from: the ordinary ones, real odd ones, and a real stream's (not a claim). */
const bases: Json[] = [...ordinary, everyType(), ...fixtureRecords];

const encode = (record: unknown): string => Buffer.from(typeof record === 'string' ? record : JSON.stringify(record)).toString('base64');
const clone = <V>(value: V): V => JSON.parse(JSON.stringify(value)) as V;

/** Every attribute path of an image (maps and lists descended). */
const attributePaths = (item: Json, prefix: Array<string | number> = []): Array<Array<string | number>> =>
  Object.entries(item).flatMap(([name, value]) => {
    const here = [...prefix, name];
    const av = value as Json;
    if (av !== null && typeof av === 'object' && 'M' in av && av.M !== null && typeof av.M === 'object') return [here, ...attributePaths(av.M as Json, [...here, 'M'])];
    if (av !== null && typeof av === 'object' && Array.isArray(av.L)) return [here, ...(av.L as unknown[]).flatMap((_, i) => [[...here, 'L', i]])];
    return [here];
  });

const setAt = (root: Json, path: ReadonlyArray<string | number>, value: unknown): void => {
  let current = root as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) current = current[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete current[last];
  else current[last] = value;
};

/** Attribute values a stream may carry, odd ones included. */
const oddValues: unknown[] = [
  { N: '007' }, { N: '+5' }, { N: '5.' }, { N: '.5' }, { N: '1e5' }, { N: '1E+2' }, { N: '-0' }, { N: '0' }, { N: '1.50' }, { N: ' 12' }, { N: 'NaN' },
  { N: 'Infinity' }, { N: '12abc' }, { N: N38 }, { N: `0.${'1'.repeat(38)}` }, { N: '123456789012345678901' }, { N: '9007199254740993' }, { N: '0.1' },
  { N: '-12.25' }, { N: 99_999 }, { N: '99999' }, { N: '100000' }, { N: '1.5' }, { N: '-1' },
  { S: '' }, { S: 'x' }, { S: 'MF' }, { S: 'M' }, { S: '2024-02-30' }, { S: '2024-02-29' }, { S: '2023-02-29' }, { S: '1980-04-00' }, { S: '2024-13-01' },
  { S: '2024-02-10T25:00:00.000000Z' }, { S: '2024-02-10T23:59:60.000000Z' }, { S: '2024-02-10T10:00:00.000000Z' }, { S: '2024-02-10T10:00:00Z' },
  { S: 'CLM-0000000G' }, { S: 'clm-00000000' }, { S: '1234567893' }, { S: '1234567890' }, { S: 'A01.1' }, { S: 'a01' }, { S: '99213' }, { S: '9921' },
  { S: 'Paid' }, { S: 'Denied' }, { S: 'Closed' }, { S: 'In Review' }, { S: '\u0000\ud800' },
  { B: 'AAEC' }, { B: '***' }, { B: 'AAE' }, { BS: ['AA=='] }, { BS: [] }, { SS: [] }, { SS: ['A01'] }, { SS: ['x', 1] }, { NS: ['1', '2.50'] }, { NS: ['1', '2'] }, { NS: [] },
  { NULL: true }, { NULL: false }, { BOOL: true }, { BOOL: 'yes' }, { L: [] }, { L: [{ S: 'A01' }] }, { L: [{ N: '1' }, { NULL: true }] }, { M: {} },
  { M: { procedure_code: { S: '99213' }, description: { S: 'd' }, charge: { N: '12.5' } } }, { M: { procedure_code: { S: '99213' }, description: { S: 'd' }, charge: { S: '12.5' } } },
  { S: 'x', N: '1' }, { X: 'y' }, {}, [], null, 'x', 5, { S: null }, { L: {} }, { M: [] }, { NULL: true, S: undefined },
];

/** Record-level values for the envelope's fields. */
const oddScalars: unknown[] = [
  undefined, null, '', 'INSERT', 'MODIFY', 'REMOVE', 'UPSERT', 'SNAPSHOT', 'MILLISECOND', 'MICROSECOND', 'NANOSECOND', 'aws:dynamodb', 'aws:kinesis', 'application/json', 'text/plain',
  0, -1, 1.5, T, T / 1000, Math.floor(T / 1000), (NOW + 25 * 3600 * 1000) * 1000, 2 ** 60, '1732000000123456', true, [], {}, { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
  { claim_id: { S: 'CLM-00000000' } }, { claim_id: { S: 'CLM-00000000' }, other: { S: 'x' } }, { claim_id: { N: '1' } }, { id: { S: 'x' } },
];
const ENVELOPE_PATHS: string[][] = [
  ['eventID'], ['eventName'], ['eventSource'], ['awsRegion'], ['recordFormat'], ['tableName'], ['userIdentity'], ['dynamodb'], ['dynamodb', 'ApproximateCreationDateTime'],
  ['dynamodb', 'ApproximateCreationDateTimePrecision'], ['dynamodb', 'Keys'], ['dynamodb', 'NewImage'], ['dynamodb', 'OldImage'], ['dynamodb', 'SizeBytes'],
];

type Mutation = (record: Json) => Json | string;

const imageMutation: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom('NewImage', 'OldImage', 'Keys'), fc.nat(), fc.nat(oddValues.length - 1), fc.boolean())
  .map(([name, pick, value, remove]) => (record: Json) => {
    const image = (record.dynamodb as Json | undefined)?.[name] as Json | undefined;
    if (image === null || typeof image !== 'object') return record;
    const paths = attributePaths(image);
    if (paths.length === 0) return record;
    setAt(image, paths[pick % paths.length] as Array<string | number>, remove ? undefined : clone(oddValues[value] ?? null));
    return record;
  });

/** Odd texts of the same DynamoDB type as the attribute they replace, by attribute name: the near misses. */
const NUMBERS = ['007', '+5', '5.', '.5', '1e5', '-0', '0', '1.50', '1.5', '-1', '99999', '100000', N38, '123456789012345678901', '9007199254740993', ' 12', '0.1', '-12.25', '2.5e-7'];
const TEXTS: Record<string, string[]> = {
  date: ['2024-02-30', '2024-02-29', '2023-02-29', '1980-04-00', '2024-13-01', '0000-01-01', '9999-12-31', '2024-1-01', ' 2024-01-01'],
  created_timestamp: ['2024-02-10T25:00:00.000000Z', '2024-02-10T23:59:60.000000Z', '2024-02-10T10:00:00.000000Z', '2024-02-10T10:00:00Z', '2024-02-30T10:00:00.000000Z', '2024-02-10T10:00:00.0000000Z'],
  claim_id: ['CLM-0000000G', 'clm-00000000', 'CLM-ABCDEF01', 'CLM-abcdef01', 'CLM-0000000'],
  npi: ['1234567893', '1234567890', '123456789', 'abcdefghij'],
  gender: ['M', 'F', 'U', 'MF', '', 'm'],
  procedure_code: ['99213', '9921', '992130', 'ABCDE'],
  claim_status: ['Paid', 'Denied', 'Closed', 'In Review', 'paid'],
  payment_status: ['Paid', 'Denied', 'Closed', 'Pending', 'Approved'],
  diagnosis_codes: ['A01.1', 'a01', 'A01.12345', 'Z99', 'A0'],
  other: ['', 'x', '\u0000\ud800', '"quoted"', 'CLM-00000000'],
};
const textsFor = (path: ReadonlyArray<string | number>): string[] => {
  const names = path.filter((k): k is string => typeof k === 'string' && k !== 'M' && k !== 'L');
  const name = names[names.length - 1] ?? '';
  if (name.includes('date') || name === 'date_of_birth') return TEXTS.date as string[];
  return TEXTS[name] ?? (TEXTS.other as string[]);
};

const nearMiss: fc.Arbitrary<Mutation> = fc.tuple(fc.constantFrom('NewImage', 'OldImage'), fc.nat(), fc.nat()).map(([name, pick, value]) => (record: Json) => {
  const image = (record.dynamodb as Json | undefined)?.[name] as Json | undefined;
  if (image === null || typeof image !== 'object') return record;
  const paths = attributePaths(image);
  if (paths.length === 0) return record;
  const path = paths[pick % paths.length] as Array<string | number>;
  let current: unknown = image;
  for (const key of path) current = (current as Record<string | number, unknown>)[key];
  const av = current as Json;
  if (av !== null && typeof av === 'object' && 'N' in av) setAt(image, path, { N: NUMBERS[value % NUMBERS.length] });
  else if (av !== null && typeof av === 'object' && 'S' in av) {
    const texts = textsFor(path);
    setAt(image, path, { S: texts[value % texts.length] });
  }
  return record;
});

const envelopeMutation: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom(...ENVELOPE_PATHS), fc.nat(oddScalars.length - 1))
  .map(([path, value]) => (record: Json) => {
    if (path.length === 2 && (record.dynamodb === null || typeof record.dynamodb !== 'object')) return record;
    const v = oddScalars[value];
    setAt(record, path, v === undefined ? undefined : clone(v));
    return record;
  });

/** Whole images swapped between records (a REMOVE with a new image, a key that does not match, no image at all). */
const swapMutation: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom('NewImage', 'OldImage'), fc.nat(bases.length - 1))
  .map(([name, from]) => (record: Json) => {
    const source = (bases[from]?.dynamodb as Json | undefined)?.NewImage ?? (bases[from]?.dynamodb as Json | undefined)?.OldImage;
    if (record.dynamodb !== null && typeof record.dynamodb === 'object' && source !== undefined) (record.dynamodb as Json)[name] = clone(source);
    return record;
  });

/** Text-level damage: truncated JSON, a `__proto__` key, duplicate keys, junk in the text. */
const textMutation: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(4), fc.nat()).map(([kind, at]) => (record: Json) => {
  const text = JSON.stringify(record);
  switch (kind) {
    case 0:
      return text.slice(0, at % Math.max(text.length, 1));
    case 1:
      return text.replace('"claim_id":', '"__proto__":{"S":"x"},"claim_id":');
    case 2:
      return text.replace('"eventName":', '"eventName":"REMOVE","eventName":');
    case 3:
      return `${text.slice(0, at % text.length)}\u00e9${text.slice(at % text.length)}`;
    default:
      return ` ${text}\n`;
  }
});

const mutation = fc.oneof({ weight: 6, arbitrary: nearMiss }, { weight: 4, arbitrary: imageMutation }, { weight: 3, arbitrary: envelopeMutation }, { weight: 1, arbitrary: swapMutation }, { weight: 1, arbitrary: textMutation });

/** Damage to the base64 itself, applied after encoding. */
const base64Damage = fc.oneof(
  fc.constant((data: string) => data),
  fc.constant((data: string) => data),
  fc.constant((data: string) => data),
  fc.tuple(fc.nat(), fc.constantFrom('-', '_', ' ', '*', '=', '\n', 'A')).map(([at, ch]) => (data: string) => `${data.slice(0, at % data.length)}${ch}${data.slice((at % data.length) + 1)}`),
  fc.constant((data: string) => data.replace(/=+$/, '')),
  fc.constant((data: string) => `${data}==`),
);

const sequences = fc.oneof(fc.constant('49600000000000000000000000001'), fc.constant(''), fc.constant('9'.repeat(128)), fc.constant('9'.repeat(129)), fc.constant('12a'), fc.stringMatching(/^\d{1,40}$/));

type Outcome = { row: { json: string; bytes: number } } | { reason: string; detail: string };

const outcome = (run: () => { json: string; bytes: number }): Outcome => {
  try {
    return { row: run() };
  } catch (error) {
    if (error instanceof RecordRejectedError) return { reason: error.reason, detail: error.detail };
    throw error;
  }
};

describe('the fast decode path', () => {
  it.each(ordinary.map((record, i) => [i, record] as const))('takes ordinary record %i itself and writes the reference row byte for byte', (_i, record) => {
    // Prepare
    const data = encode(record);
    // Act
    const fast = fastRowJson(data, '49600000000000000000000000001', { nowMs: NOW, maxMessageBytes: MAX });
    // Assess
    expect(fast).toBeDefined();
    expect(fast).toEqual(referenceRowJson(data, '49600000000000000000000000001', NOW, MAX));
  });

  it('on mutated records, writes exactly the reference row or hands the record back; never accepts what the reference rejects', () => {
    const tally = { fast: 0, deferredAccepted: 0, rejected: 0 };
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 0, maxLength: 3 }), base64Damage, sequences, (base, mutations, damage, sequence) => {
        // Prepare
        let record: Json | string = clone(bases[base] as Json);
        for (const mutate of mutations) if (typeof record !== 'string') record = mutate(record);
        const data = damage(encode(record));
        // Act
        const fast = fastRowJson(data, sequence, { nowMs: NOW, maxMessageBytes: MAX });
        const reference = outcome(() => referenceRowJson(data, sequence, NOW, MAX));
        // Assess
        if (fast !== undefined) {
          tally.fast += 1;
          expect(reference).toEqual({ row: fast });
        } else if ('row' in reference) tally.deferredAccepted += 1;
        else tally.rejected += 1;
      }),
      { numRuns: 6_000, seed: 20_261_201 },
    );
    // The run exercised both paths: many records taken fast, many rejected by the reference.
    process.stderr.write(`fast-decode differential: ${JSON.stringify(tally)}\n`);
    expect(tally.fast).toBeGreaterThan(500);
    expect(tally.rejected).toBeGreaterThan(1_000);
  });

  it('the transform\'s decode gives the reference outcome for every mutated record: the same row, or the same reason and detail', () => {
    fc.assert(
      fc.property(fc.nat(bases.length - 1), fc.array(mutation, { minLength: 1, maxLength: 2 }), base64Damage, (base, mutations, damage) => {
        // Prepare
        let record: Json | string = clone(bases[base] as Json);
        for (const mutate of mutations) if (typeof record !== 'string') record = mutate(record);
        const data = damage(encode(record));
        // Act
        const actual = outcome(() => kinesisRowJson(data, '42', { nowMs: NOW, maxMessageBytes: MAX }));
        const reference = outcome(() => referenceRowJson(data, '42', NOW, MAX));
        // Assess
        expect(actual).toEqual(reference);
      }),
      { numRuns: 1_500, seed: 7 },
    );
  });

  it('hands back a REMOVE whose row is too large with its old image, so the delete travels without it', () => {
    // Prepare
    const huge = changeRecord({ eventName: 'REMOVE', claim: alteredClaim(sample[3], { adjuster_notes: 'x'.repeat(300_000) }), micros: T });
    const data = encode(huge);
    // Act
    const fast = fastRowJson(data, '1', { nowMs: NOW, maxMessageBytes: MAX });
    const row = kinesisRowJson(data, '1', { nowMs: NOW, maxMessageBytes: MAX });
    // Assess
    expect(fast).toBeUndefined();
    expect(JSON.parse(row.json)).toMatchObject({ eventName: 'REMOVE', claimId: sample[3]?.claim_id, rawImage: null });
  });

  it('rejects an INSERT whose row cannot fit in a queue message as too-large, whichever path wrote it', () => {
    // Prepare
    const huge = changeRecord({ eventName: 'INSERT', claim: alteredClaim(sample[2], { adjuster_notes: 'x'.repeat(300_000) }), micros: T });
    const data = encode(huge);
    // Act
    const fast = fastRowJson(data, '1', { nowMs: NOW, maxMessageBytes: MAX });
    const result = outcome(() => kinesisRowJson(data, '1', { nowMs: NOW, maxMessageBytes: MAX }));
    // Assess
    expect(fast).toBeDefined();
    expect(result).toMatchObject({ reason: 'too-large' });
  });
});
