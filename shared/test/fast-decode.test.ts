/**
 * The transform's fast path against the reference decoder (zod schemas → registry flatten → cell rules), on real and
 * generated records mutated in every way we know a stream record can be odd. For every input the fast path must
 * either write byte-for-byte the reference's row, or hand the record back (undefined) — it must never accept what
 * the reference rejects, nor write a different row. The reference is the oracle; nothing here computes a row itself.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { RecordRejectedError } from '../src/domain/errors';
import { fastRowJson } from '../src/domain/fast-decode';
import { isCanonicalNumber } from '../src/domain/wire-text';
import { isCreatedTimestamp, isDateText, isNpi } from '../src/domain/wire-claim';
import { isCalendarDate, isCalendarTimestamp } from '../src/domain/cell-rules';
import { CREATED_TIMESTAMP_PATTERN, isValidNpi } from '../src/domain/claim';
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

/**
 * `expect(actual).toEqual(expected)`, built only when the two differ. The properties here run 57,500 times; jest's
 * `expect()` builds every matcher for each call (about 60 µs here), which was half of this file's CPU.
 */
const agree = (actual: unknown, expected: unknown): void => {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
};

const outcome = (run: () => { json: string; bytes: number }): Outcome => {
  try {
    return { row: run() };
  } catch (error) {
    if (error instanceof RecordRejectedError) return { reason: error.reason, detail: error.detail };
    throw error;
  }
};

/** An INSERT of claim `i` of the sample with these wire attributes added to its image (the claim stays valid). */
const withAttributes = (i: number, attributes: Json): Json => {
  const record = changeRecord({ eventName: 'INSERT', claim: sample[i]!, micros: T }) as { dynamodb: Json };
  record.dynamodb.NewImage = { ...(record.dynamodb.NewImage as Json), ...attributes };
  return record as Json;
};

/** The record's JSON text with every character of `chars` written as a \\u escape inside its strings (keys included). */
const escapeChars = (text: string, chars: string): string => {
  const pattern = new RegExp(`[${chars}]`, 'g');
  return text.replace(/"[^"\\]*"/g, (literal) => literal.replace(pattern, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
};

/** Base64 of the record's UTF-8 text with `marker` (inside a string) replaced by raw bytes, valid UTF-8 or not. */
const withBytes = (record: Json, marker: string, bytes: number[]): string => {
  const [before, after] = JSON.stringify(record).split(marker) as [string, string];
  return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]).toString('base64');
};

/**
 * Records whose text is not the plain ASCII a healthy table sends: escapes (so the text is not "clean"), non-ASCII,
 * bytes that are not UTF-8, keys JSON orders by number, numbers at the edges of the short-number rule. `taken` says
 * the fast path must write the row itself; either way it must write the reference's row byte for byte.
 */
const textForms: Array<readonly [string, string, boolean]> = [
  ['clean ASCII', encode(ordinary[0]), true],
  ['non-ASCII text, clean', encode(changeRecord({ eventName: 'MODIFY', claim: alteredClaim(sample[2], { member_id: 'Zoë 東京 😀 \u2028 \u00ff' }), micros: T }, sample[2])), true],
  ['quotes, backslashes and control characters escaped', encode(changeRecord({ eventName: 'INSERT', claim: alteredClaim(sample[3], { insurance_plan: 'say "hi" \\ \n\t\u0001 / end' }), micros: T })), true],
  ['letters written as \\u escapes, in keys and values', escapeChars(JSON.stringify(ordinary[4]), 'ae'), true],
  ['slashes written as \\/', JSON.stringify(ordinary[5]).replace(/\//g, '\\/'), true],
  ['a lone surrogate, escaped', encode(withAttributes(1, { note: { S: 'x\ud800y' }, list: { L: [{ S: '\udfff' }] } })), true],
  ['a surrogate pair written as escapes', JSON.stringify(ordinary[6]).replace('"description":{"S":"', '"description":{"S":"\\ud83d\\ude00'), true],
  ['invalid UTF-8 (0xFF) in a string', withBytes(withAttributes(2, { note: { S: 'MARK' } }), 'MARK', [0x41, 0xff, 0x42]), true],
  ['a UTF-8-encoded surrogate (invalid) in a string', withBytes(withAttributes(2, { note: { S: 'MARK' } }), 'MARK', [0xed, 0xa0, 0x80]), true],
  ['valid 4-byte UTF-8 in a string', withBytes(withAttributes(4, { note: { S: 'MARK' } }), 'MARK', [0xf0, 0x9f, 0x98, 0x80]), true],
  ['keys JSON orders by number, and odd keys', encode(withAttributes(5, { b: { S: 'x' }, '10': { N: '1' }, '2': { M: { '1': { S: 'y' }, a: { NULL: true } } }, 'k"ey\\': { BOOL: false }, '': { S: '' } })), true],
  ['every plain-JSON type', encode(withAttributes(6, { s: { SS: ['a', 'b"'] }, n: { NS: ['1', '2.5', '-0.125'] }, l: { L: [] }, m: { M: {} }, t: { BOOL: true }, z: { NULL: true } })), true],
  ['short numbers, taken without the round trip', encode(withAttributes(7, { a: { N: '0.000001' }, b: { N: '123456789012345' }, c: { N: '-0.5' }, d: { N: '99999.99999999' }, e: { N: '0' } })), true],
  ['numbers the round trip must judge', encode(withAttributes(8, { a: { N: '0.0000001' }, b: { N: '1234567890123456789' }, c: { N: '-0' } })), false],
  ['a long number that prints back', encode(withAttributes(9, { a: { N: '1234567890123456' }, b: { N: '0.30000000000000004' } })), true],
  ['whitespace between tokens', ` ${JSON.stringify(ordinary[7], null, 2)}\n`, true],
  ['a duplicate key (the last wins)', JSON.stringify(ordinary[8]).replace('"member_id":', '"member_id":{"S":"first"},"member_id":'), true],
].map(([name, text, taken]) => [name as string, /^[A-Za-z0-9+/]*={0,2}$/.test(text as string) && (text as string).length % 4 === 0 ? (text as string) : encode(text), taken as boolean] as const);

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

  it.each(textForms)('%s: writes the reference row byte for byte', (_name, data, taken) => {
    // Act
    const fast = fastRowJson(data, '49600000000000000000000000001', { nowMs: NOW, maxMessageBytes: MAX });
    const reference = referenceRowJson(data, '49600000000000000000000000001', NOW, MAX);
    // Assess
    if (taken) expect(fast).toBeDefined();
    if (fast !== undefined) expect(fast).toEqual(reference);
  });

  it('hands back, without throwing, an image nested deeper than the stack allows', () => {
    // Prepare
    const depth = 200_000;
    const text = JSON.stringify(ordinary[0]).replace('"member_id":{"S":', `"deep":${'{"L":['.repeat(depth)}${']}'.repeat(depth)},"member_id":{"S":`);
    // Act
    const run = (): unknown => fastRowJson(encode(text), '1', { nowMs: NOW, maxMessageBytes: 10 * MAX });
    // Assess
    expect(run).not.toThrow();
    expect(run()).toBeUndefined();
  });

  it('writes the same row for a record however its text escapes the same characters', () => {
    // Prepare
    const plain = encode(ordinary[1]);
    const escaped = encode(escapeChars(JSON.stringify(ordinary[1]), 'aeiouMC0-9'));
    // Act
    const a = fastRowJson(plain, '7', { nowMs: NOW, maxMessageBytes: MAX });
    const b = fastRowJson(escaped, '7', { nowMs: NOW, maxMessageBytes: MAX });
    // Assess
    expect(a).toBeDefined();
    expect(b).toEqual(a);
  });

  it('checks dates, created timestamps and NPIs exactly as the claim schema\'s own checks do', () => {
    const digits = (n: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^\\d{${n}}$`));
    const near = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
      fc.tuple(text, fc.nat(40), fc.constantFrom('', 'x', '-', ':', '0', '9', ' ', '\u0660', 'T')).map(([t, at, ch]) => (ch === '' ? t : `${t.slice(0, at % (t.length + 1))}${ch}${t.slice((at % (t.length + 1)) + 1)}`));
    const date = fc.tuple(digits(4), fc.constantFrom('00', '01', '02', '04', '09', '12', '13', '99'), fc.constantFrom('00', '01', '28', '29', '30', '31', '32')).map(([y, m, d]) => `${y}-${m}-${d}`);
    const time = fc.tuple(date, fc.constantFrom('00', '23', '24', '99'), fc.constantFrom('00', '59', '60'), fc.constantFrom('00', '59', '60'), digits(6)).map(([d, h, mi, se, f]) => `${d}T${h}:${mi}:${se}.${f}Z`);
    fc.assert(
      fc.property(fc.oneof(near(date), near(time), near(digits(10)), fc.string({ maxLength: 30 })), (text) => {
        agree(
          { text, date: isDateText(text), created: isCreatedTimestamp(text), npi: isNpi(text) },
          { text, date: isCalendarDate(text), created: CREATED_TIMESTAMP_PATTERN.test(text) && isCalendarTimestamp(text), npi: isValidNpi(text) },
        );
      }),
      { numRuns: 30_000, seed: 5 },
    );
  });

  it('takes a short number without the round trip only when String(Number(text)) gives the text back', () => {
    const canonical = /^-?(?:0|[1-9]\d*)(?:\.\d*[1-9])?$/;
    const texts = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.tuple(fc.boolean(), fc.stringMatching(/^(0|[1-9]\d{0,16})$/), fc.stringMatching(/^(\d{0,12}[1-9])?$/)).map(([neg, int, frac]) => `${neg ? '-' : ''}${int}${frac ? `.${frac}` : ''}`),
      fc.tuple(fc.nat(9), fc.stringMatching(/^\d{0,8}[1-9]$/)).map(([zeros, digits]) => `0.${'0'.repeat(zeros)}${digits}`),
    );
    fc.assert(
      fc.property(texts, (text) => {
        agree({ text, canonical: isCanonicalNumber(text) }, { text, canonical: canonical.test(text) && String(Number(text)) === text });
      }),
      { numRuns: 20_000, seed: 11 },
    );
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
          agree(reference, { row: fast });
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
        agree(actual, reference);
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
