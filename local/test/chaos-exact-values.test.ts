/**
 * The chaos harness's new classes, without the stack: the exact-JSON comparison it verifies raw images with, the
 * records it builds (exotic values, switched precisions) as the transform reads them, the precision rewrite it
 * applies to the capture's records, and the reason every poison kind must be quarantined with.
 */
import { itemJson, RecordRejectedError, toChangeEvent, toClaimRow, type DynamoDBKinesisRecord } from '@claims-cdc/shared';
import { buildChangeRecord, marshallImage } from '@claims-cdc/shared/test-support/change-records';
import { canonicalJson, ExactJsonError } from '../src/chaos/exact-json';
import { cloneItem, NumberValue } from '../src/chaos/exotic';
import { poisonBytes } from '../src/chaos/poison';
import { expectedMicros, PrecisionSwitch, STRETCH_MICROS } from '../src/chaos/precision';
import { hashItems, hashWireItems } from '../src/chaos/verify';
import { changePartitionKey } from '../src/stack/partition-key';
import { POISON_KINDS, Workload, type ChangeOp, type PoisonKind } from '../src/chaos/workload';

const TABLE = 'InsuranceClaims';
const NOW_MS = 1_765_000_000_000;
const T = NOW_MS * 1000 + 700;

/** The run's operations, every fault of the workload on. */
const opsOf = (seed: number) => [...new Workload({ events: 600, claims: 60, seed, poison: true, oversized: true, oversizedRemove: true, exoticValues: true }).ops()];

const recordOf = (op: ChangeOp, precision?: 'MICROSECOND' | 'MILLISECOND' | 'none'): DynamoDBKinesisRecord =>
  buildChangeRecord({
    eventName: op.kind,
    tableName: TABLE,
    keys: { claim_id: op.claimId },
    ...(op.kind === 'REMOVE' ? {} : { newImage: op.after }),
    ...(op.kind === 'INSERT' ? {} : { oldImage: op.before }),
    micros: T,
    ...(precision ? { precision } : {}),
  });

/** What the transform makes of a record's bytes (through JSON, as on the stream). */
const transformed = (record: DynamoDBKinesisRecord) => toChangeEvent(JSON.parse(JSON.stringify(record)), '4'.repeat(128), NOW_MS);

describe('canonicalJson: keys sorted, every number as written', () => {
  it.each([
    ['key order', '{"b":1,"a":{"d":[],"c":{}}}', ' { "a" : { "c" : { } , "d" : [ ] } , "b" : 1 } '],
    ['string escapes', '{"a":"A\\n"}', '{"a":"\\u0041\\u000a"}'],
  ])('treats texts that differ only in %s as equal', (_, a, b) => {
    // Act + Assess
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it.each([
    ['two 38-digit integers one double stands for', '12345678901234567890123456789012345678', '12345678901234567890123456789012345679'],
    ['a 38-significant-digit decimal and its double', '0.12345678901234567890123456789012345678', '0.12345678901234568'],
    ['trailing zeros', '1.50', '1.5'],
  ])('tells apart %s (JSON.parse would not)', (_, a, b) => {
    // Prepare: the same double.
    expect(JSON.parse(a)).toBe(JSON.parse(b));
    // Act + Assess
    expect(canonicalJson(`{"n":${a}}`)).not.toBe(canonicalJson(`{"n":${b}}`));
  });

  it.each(['{', '[1,]', '01', '{"a":1} x', '{"a":nul}', "{'a':1}"])('rejects %s', (text) => {
    expect(() => canonicalJson(text)).toThrow(ExactJsonError);
  });
});

describe('exotic values: built as the direct source builds them, read as the transform reads them', () => {
  const ops = opsOf(3).filter((op): op is ChangeOp => op.kind !== 'POISON');
  const exotic = ops.filter((op) => op.kind !== 'REMOVE' && 'ledger_ref' in op.after);

  it('are in the workload: unknown attributes of every type, and 38-digit known numbers', () => {
    // Assess
    expect(exotic.length).toBeGreaterThan(3);
    const item = exotic.find((op) => op.kind !== 'REMOVE' && (op.after.total_charge as unknown) instanceof NumberValue);
    expect(item).toBeDefined();
    const wire = JSON.stringify(recordOf(item!).dynamodb.NewImage);
    for (const type of ['"SS":', '"NS":', '"BS":', '"B":"', '"NULL":true', '"L":[]', '"M":{}']) expect(wire).toContain(type);
    expect(wire).toMatch(/"total_charge":\{"N":"\d{38}"\}/);
  });

  it('keeps NumberValue, sets and bytes when the model copies an item (structuredClone would not)', () => {
    // Prepare
    const item = { n: new NumberValue('12345678901234567890123456789012345678'), s: new Set([new NumberValue('1')]), b: Uint8Array.from([1, 2]) };
    // Act
    const copy = cloneItem(item);
    // Assess
    expect(JSON.stringify(marshallImage(copy))).toBe(JSON.stringify(marshallImage(item)));
    expect(copy.b).not.toBe(item.b);
  });

  it.each(['MICROSECOND', 'MILLISECOND', 'none'] as const)('arrive in the raw image digit for digit, records in %s', (precision) => {
    for (const op of ops) {
      // Act
      const record = recordOf(op, precision);
      const event = transformed(record);
      // Assess: binary travels as base64 text, and the row's raw image is the item's exact JSON.
      expect(JSON.stringify(record)).not.toMatch(/"B":\{/);
      expect(event.eventCreationUnixTime).toBe(expectedMicros(record));
      expect(event.eventCreationUnixTime).toBe(precision === 'MICROSECOND' ? String(T) : String(T - 700));
      if (op.kind !== 'REMOVE') expect(canonicalJson(String(toClaimRow(event).rawImage))).toBe(canonicalJson(itemJson(marshallImage(op.after))));
    }
  });

  it('hash the same from the model and from DynamoDB JSON, and differently when one digit is lost', () => {
    // Prepare
    const item = exotic[0]!.kind === 'REMOVE' ? undefined : exotic[0]!.after;
    const wire = recordOf(exotic[0]!).dynamodb.NewImage!;
    const rounded = { ...wire, ledger_ref: { N: String(Number(wire.ledger_ref!.N)) } };
    // Act
    const fromModel = hashItems([item as Record<string, unknown>]);
    const fromWire = hashWireItems([wire]);
    const fromRounded = hashWireItems([rounded]);
    // Assess
    const id = exotic[0]!.claimId;
    expect(fromWire.get(id)?.hash).toBe(fromModel.get(id)?.hash);
    expect(fromRounded.get(id)?.hash).not.toBe(fromModel.get(id)?.hash);
  });
});

describe('poison: each kind is rejected by the transform with the reason the harness expects', () => {
  const poison = opsOf(5).filter((op) => op.kind === 'POISON');

  it('covers every kind', () => {
    expect(new Set(poison.map((op) => op.poison))).toEqual(new Set(Object.keys(POISON_KINDS)));
  });

  it.each(Object.keys(POISON_KINDS) as PoisonKind[])('%s', (kind) => {
    // Prepare
    const op = poison.find((p) => p.poison === kind)!;
    const data = poisonBytes(kind, op.claim, TABLE, Date.now() * 1000);
    // Act
    let reason = 'accepted';
    try {
      toChangeEvent(JSON.parse(data.toString('utf8')), '1');
    } catch (error) {
      reason = error instanceof RecordRejectedError ? error.reason : error instanceof SyntaxError ? 'not-json' : `unexpected ${(error as Error).name}`;
    }
    // Assess
    expect(reason).toBe(POISON_KINDS[kind]);
  });
});

describe('precision-switch', () => {
  const op = opsOf(1).find((o) => o.kind === 'INSERT')!;
  const capture = (micros: number) => {
    const record = buildChangeRecord({ eventName: 'INSERT', tableName: TABLE, keys: { claim_id: op.claimId }, newImage: op.kind === 'INSERT' ? op.after : {}, micros });
    return { record, data: Buffer.from(JSON.stringify(record)), partitionKey: changePartitionKey(TABLE, record.dynamodb.Keys) };
  };

  it('rewrites a capture record into its stretch precision, the same bytes every time, and leaves poison alone', () => {
    // Prepare: one record in each precision of the pattern.
    const switcher = new PrecisionSwitch(0);
    const seen = new Map<string, DynamoDBKinesisRecord>();
    for (let stretch = 0; stretch < 6; stretch += 1) {
      const micros = (Math.floor(T / STRETCH_MICROS) + stretch) * STRETCH_MICROS + 123_456;
      const { data, partitionKey } = capture(micros);
      // Act
      const delivered = switcher.deliver(data, partitionKey);
      const poison = switcher.deliver(data, 'F'.repeat(32));
      // Assess
      expect(switcher.deliver(data, partitionKey).equals(delivered)).toBe(true);
      expect(poison.equals(data)).toBe(true);
      const record = JSON.parse(delivered.toString('utf8')) as DynamoDBKinesisRecord;
      const label = record.dynamodb.ApproximateCreationDateTimePrecision ?? 'none';
      expect(label).toBe(switcher.at(micros));
      expect(record.dynamodb.ApproximateCreationDateTime).toBe(label === 'MICROSECOND' ? micros : Math.floor(micros / 1000));
      expect(Object.keys(record.dynamodb)).toEqual(Object.keys(JSON.parse(data.toString('utf8')).dynamodb).filter((k) => label !== 'none' || k !== 'ApproximateCreationDateTimePrecision'));
      seen.set(label, record);
    }
    expect([...seen.keys()].sort()).toEqual(['MICROSECOND', 'MILLISECOND', 'none']);
  });

  it('gives the direct source stretches of every precision, some one record long', () => {
    // Prepare
    const switcher = new PrecisionSwitch(2);
    // Act
    const sequence = Array.from({ length: 2000 }, () => switcher.next());
    // Assess
    expect(new Set(sequence)).toEqual(new Set(['MICROSECOND', 'MILLISECOND', 'none']));
    const runs = sequence.reduce<number[]>((acc, p, i) => (i > 0 && p === sequence[i - 1] ? [...acc.slice(0, -1), acc.at(-1)! + 1] : [...acc, 1]), []);
    expect(Math.min(...runs)).toBe(1);
    expect(Math.max(...runs)).toBeGreaterThanOrEqual(40);
  });
});
