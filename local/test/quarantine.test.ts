/**
 * Quarantine, locally: the store folds queue messages into entries (parts joined, redeliveries collapsed, nothing
 * dropped), and `claims-cdc quarantine` lists, shows and re-drives them against a running stack with the real
 * handlers (in a child process): a poison record lands in quarantine with its reason, a still-broken fix is refused,
 * and a fixed record reaches the destination.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { KinesisClient, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { generateClaims, quarantineMessages, type Claim } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import type { VerifyResult } from '../src/inspect/verify';
import { describeVerify } from '../src/inspect/verify-format';
import { run } from '../src/cli/main';
import { identityMismatch, PHI_WARNING, QuarantineLookupError, QuarantineStore, type QuarantineEntry, type QuarantineEntryWithPayload, type StoreLine } from '../src/quarantine';
import { callStackControl, readStackInfo, type StackInfo } from '../src/stack/stack-client';
import { killAllTsChildren, REPO_ROOT, startTsChild, type TsChild } from './support/ts-child';
import { waitUntil } from './support/wait';

const part = (message: ReturnType<typeof quarantineMessages>[number]): StoreLine => ({ type: 'part', receivedAt: '2026-01-01T00:00:00.000Z', message });

describe('QuarantineStore', () => {
  let dir: string;
  let store: QuarantineStore;
  const origin = { stage: 'transform' as const, id: '49600000000000000000000000001', source: 'arn:aws:kinesis:us-east-1:000000000000:stream/S' };

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-qstore-'));
    store = new QuarantineStore(path.join(dir, 'quarantine.jsonl'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('joins the parts of a split payload, once every part is in, and writes an owner-only file', () => {
    // Prepare: a payload larger than one queue message.
    const payload = Buffer.alloc(600_000, 'x').toString('base64');
    const parts = quarantineMessages('too-large', 'row too large', origin, payload);
    // Act
    store.append([part(parts[0]!)]);
    const partial = store.list();
    store.append(parts.slice(1).map(part));
    // Assess
    expect(parts.length).toBeGreaterThan(1);
    expect(partial).toMatchObject([{ reason: 'too-large', complete: false }]);
    expect(store.get(partial[0]!.id)).toMatchObject({ complete: true, payload });
    expect(statSync(store.file).mode & 0o077).toBe(0);
  });

  it('collapses the same input quarantined again (a redelivered batch) and a part written twice into one entry', () => {
    // Prepare
    const first = quarantineMessages('not-json', 'payload is not valid JSON', origin, 'bm90IGpzb24=');
    const again = quarantineMessages('not-json', 'payload is not valid JSON', origin, 'bm90IGpzb24=');
    const other = quarantineMessages('not-json', 'payload is not valid JSON', { ...origin, id: '49600000000000000000000000002' }, 'b3RoZXI=');
    // Act
    store.append([...first, ...first, ...again, ...other].map(part));
    // Assess
    const entries = store.list();
    expect(entries).toHaveLength(2);
    expect(entries.find((e) => e.origin.id === origin.id)).toMatchObject({ deliveries: 2, complete: true, reason: 'not-json' });
  });

  it('keeps a queue message that is not in the quarantine format, and skips a torn last line', () => {
    // Prepare
    store.append([{ type: 'unreadable', receivedAt: '2026-01-01T00:00:00.000Z', messageId: 'm-1', body: 'garbage body' }]);
    writeFileSync(store.file, `${readFileSync(store.file, 'utf8')}{"type":"part","rece`);
    // Act
    const entries = store.list();
    // Assess
    expect(entries).toMatchObject([{ reason: 'unreadable-quarantine-message', origin: { stage: 'unknown', id: 'm-1' }, complete: true }]);
    expect(store.get(entries[0]!.id).payload).toBe('garbage body');
  });

  it('finds entries by unique id prefix, marks them re-driven, and names an unknown id', () => {
    // Prepare
    store.append(quarantineMessages('not-json', 'payload is not valid JSON', origin, 'eA==').map(part));
    const [entry] = store.list();
    // Act
    store.markRedriven(entry!.id.slice(0, 6), { at: '2026-01-02T00:00:00.000Z', target: 'stream', ref: '123' });
    store.markRedriven(entry!.id, { at: '2026-01-02T00:00:00.000Z', target: 'stream', ref: '123' });
    // Assess
    expect(store.get(entry!.id.slice(0, 6)).redriven).toEqual({ at: '2026-01-02T00:00:00.000Z', target: 'stream', ref: '123' });
    expect(() => store.get('zzz')).toThrow(QuarantineLookupError);
  });
});

describe('identityMismatch: is the fixed record for the quarantined claim and event?', () => {
  const entry = (stage: 'transform' | 'load', payload: string | undefined): QuarantineEntryWithPayload => ({
    id: 'q123',
    reason: 'claim-schema',
    detail: 'x',
    origin: { stage, id: '1' },
    quarantinedAt: '2026-01-01T00:00:00.000Z',
    deliveries: 1,
    complete: payload !== undefined,
    payload,
  });
  const record = (claimId: string, eventID = 'e-1', eventName = 'MODIFY') => JSON.stringify({ eventID, eventName, dynamodb: { Keys: { claim_id: { S: claimId } } } });
  const stream = (text: string) => Buffer.from(text).toString('base64');
  const rows = (...pairs: [string, string][]) => JSON.stringify({ format: 'claims-cdc.rows.v1', rows: pairs.map(([claimId, eventId]) => ({ claimId, eventId, eventName: 'INSERT' })) });

  it.each([
    ['the same claim and event', entry('transform', stream(record('CLM-1'))), record('CLM-1'), undefined],
    ['another claim', entry('transform', stream(record('CLM-1'))), record('CLM-2'), 'the fixed record is for claim CLM-2 event e-1 (MODIFY), but the quarantined one is for claim CLM-1 event e-1 (MODIFY)'],
    ['another event name', entry('transform', stream(record('CLM-1'))), record('CLM-1', 'e-1', 'REMOVE'), 'the fixed record is for claim CLM-1 event e-1 (REMOVE), but the quarantined one is for claim CLM-1 event e-1 (MODIFY): keep its event id and name'],
    ['a quarantined record that is not JSON', entry('transform', stream('{not json')), record('CLM-1'), 'the quarantined record q123 does not say which claim it is for, so the fixed record cannot be compared with it'],
    ['a fix without a claim id', entry('transform', stream(record('CLM-1'))), '{"dynamodb":{}}', 'the fixed record does not say which claim it is for (the quarantined one is for claim CLM-1 event e-1 (MODIFY))'],
    ['parts still missing', entry('transform', undefined), record('CLM-1'), 'not every part of q123 has been received, so the fixed record cannot be compared with it'],
    ['a load message with the same rows, reordered', entry('load', rows(['CLM-1', 'a'], ['CLM-2', 'b'])), rows(['CLM-2', 'b'], ['CLM-1', 'a']), undefined],
    ['a load message missing a row', entry('load', rows(['CLM-1', 'a'], ['CLM-2', 'b'])), rows(['CLM-1', 'a']), 'the fixed record is for claim CLM-1 event a (INSERT), but the quarantined one is for claim CLM-1 event a (INSERT), claim CLM-2 event b (INSERT)'],
  ])('%s', (_name, quarantined, fixed, expected) => {
    // Act + Assess
    expect(identityMismatch(quarantined, fixed)).toBe(expected);
  });
});

/** The poison record of a claim (its charge as text, which the claim schema rejects) and the user's fix of it. */
const poisonOf = (claim: Claim) => {
  const record = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: claim.claim_id }, newImage: { ...claim, total_charge: String(claim.total_charge) }, micros: 1_731_924_555_932_000 });
  const fixed = JSON.parse(JSON.stringify(record)) as { eventID: string; dynamodb: { NewImage: Record<string, unknown> } };
  fixed.dynamodb.NewImage.total_charge = { N: String(claim.total_charge) };
  return { poison: JSON.stringify(record), fixed };
};

/**
 * A stack with the real handlers and quarantine attached, in a child process on its own state directory, and the
 * CLI pointed at it. Each test quarantines a claim of its own (a seed of its own), so no test needs another's writes.
 */
const quarantineStack = () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-quarantine-'));
  const at = ['--state-dir', stateDir];
  const fixture = { stateDir, child: undefined as TsChild | undefined, info: undefined as StackInfo | undefined, kinesis: undefined as KinesisClient | undefined };
  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run([...argv, ...at], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const list = async () => JSON.parse((await cli('quarantine', 'list', '--json')).out) as QuarantineEntry[];
  /** Writes `content` to a file in the state directory; its path. */
  const file = (name: string, content: unknown) => {
    const written = path.join(stateDir, name);
    writeFileSync(written, typeof content === 'string' ? content : JSON.stringify(content));
    return written;
  };
  /** Puts the poison record of the claim generated from `seed` on the stream and waits for its quarantine entry. */
  const quarantined = async (seed: number) => {
    const claim = generateClaims(1, seed)[0]!;
    const { poison, fixed } = poisonOf(claim);
    const put = await fixture.kinesis!.send(new PutRecordCommand({ StreamName: 'InsuranceClaimsStream', PartitionKey: claim.claim_id, Data: Buffer.from(poison) }));
    const entry = await waitUntil(async () => (await list()).find((e) => e.origin.id === put.SequenceNumber), `the poison record of seed ${seed} in quarantine`);
    return { claim, poison, fixed, entry, sequenceNumber: put.SequenceNumber };
  };

  beforeAll(async () => {
    fixture.child = startTsChild(path.join(REPO_ROOT, 'local', 'test', 'fixtures', 'quarantine-stack.ts'), [stateDir]);
    await fixture.child.waitForOutput(/^ready$/m);
    fixture.info = readStackInfo(stateDir)!;
    fixture.kinesis = new KinesisClient({ endpoint: fixture.info.endpoints.kinesis, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  }, 60_000);

  afterAll(() => {
    fixture.kinesis?.destroy();
    killAllTsChildren();
    rmSync(stateDir, { recursive: true, force: true });
  });

  return { fixture, cli, list, file, quarantined };
};

describe('claims-cdc quarantine against a running stack', () => {
  const { fixture, cli, list, file, quarantined } = quarantineStack();

  it('a poison record put on the stream lands in quarantine with its reason, listed without its payload', async () => {
    // Act
    const { entry, sequenceNumber } = await quarantined(4242);
    // Assess
    expect(entry).toMatchObject({ reason: 'claim-schema', origin: { stage: 'transform', id: sequenceNumber }, complete: true, deliveries: 1 });
    expect(entry.detail).toContain('total_charge');
    expect(entry).not.toHaveProperty('payload');
    const table = await cli('quarantine', 'list');
    expect(table.out).toMatch(new RegExp(`^${entry.id}\\s+claim-schema\\s+stream record ${sequenceNumber}`, 'm'));
  });

  it('show prints the raw record, after a PHI warning on stderr', async () => {
    // Prepare
    const { entry, poison } = await quarantined(4243);
    // Act
    const shown = await cli('quarantine', 'show', entry.id.slice(0, 8));
    // Assess
    expect(shown.code).toBe(0);
    expect(shown.out).toBe(poison);
    expect(shown.err.split('\n')[0]).toBe(PHI_WARNING);
  });

  it('refuses a "fix" that the pipeline would still reject, naming the reason, and leaves the entry as it was', async () => {
    // Prepare
    const { entry, poison } = await quarantined(4244);
    // Act
    const reply = await cli('quarantine', 'redrive', entry.id, '--file', file('still-broken.json', poison));
    // Assess
    expect(reply.code).toBe(1);
    expect(reply.err).toMatch(/^claims-cdc quarantine: the fixed record would be rejected again: claim-schema: NewImage does not match the claim schema: total_charge/);
    expect((await list()).find((e) => e.id === entry.id)!.redriven).toBeUndefined();
  });

  it('refuses a fixed record for another claim or another event, naming both, unless --force', async () => {
    // Prepare: a valid record, but of another claim; and the right claim with another event id.
    const { claim, fixed, entry } = await quarantined(4245);
    const other = generateClaims(1, 99)[0]!;
    const otherRecord = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: other.claim_id }, newImage: other, micros: 1_731_924_555_932_000 });
    const originalEvent = fixed.eventID;
    // Act
    const otherClaim = await cli('quarantine', 'redrive', entry.id, '--file', file('other-claim.json', otherRecord));
    const otherEvent = await cli('quarantine', 'redrive', entry.id, '--file', file('other-event.json', { ...fixed, eventID: 'another-event' }));
    // Assess
    expect(otherClaim.code).toBe(1);
    expect(otherClaim.err).toBe(
      `claims-cdc quarantine: the fixed record is for claim ${other.claim_id} event ${otherRecord.eventID} (INSERT), but the quarantined one is for claim ${claim.claim_id} event ${originalEvent} (INSERT); nothing was re-driven (--force re-drives it anyway)`,
    );
    expect(otherEvent.code).toBe(1);
    expect(otherEvent.err).toContain(`the fixed record is for claim ${claim.claim_id} event another-event (INSERT), but the quarantined one is for claim ${claim.claim_id} event ${originalEvent} (INSERT): keep its event id and name`);
    expect((await list()).find((e) => e.id === entry.id)!.redriven).toBeUndefined();
  });

  it('re-drives a fixed record onto the stream, and it reaches the destination', async () => {
    // Prepare: the user's fix — the charge as a number again.
    const { claim, fixed, entry } = await quarantined(4246);
    // Act
    const reply = await cli('quarantine', 'redrive', entry.id, '--file', file('fixed.json', JSON.stringify(fixed, null, 2)));
    // Assess
    expect(reply.err).toBe('');
    expect(reply.code).toBe(0);
    expect(reply.out).toMatch(new RegExp(`^${entry.id} re-driven to the Kinesis stream \\(sequence number \\d+\\)$`));
    const rows = await waitUntil(async () => {
      const found = await callStackControl<Record<string, unknown>[]>(fixture.info!, 'sql', {
        sql: `SELECT claimId, totalCharge, patientLastName FROM openflow_insclaim_dest_tbl WHERE claimId = '${claim.claim_id}'`,
      });
      return found.length > 0 ? found : undefined;
    }, 'the re-driven claim in the destination');
    expect(rows).toEqual([{ claimId: claim.claim_id, totalCharge: claim.total_charge, patientLastName: claim.patient.last_name }]);
    expect((await list()).find((e) => e.id === entry.id)!.redriven).toMatchObject({ target: 'stream' });
  });

  it('refuses to re-drive the same entry twice without --force', async () => {
    // Prepare
    const { fixed, entry } = await quarantined(4247);
    const fixedFile = file('fixed-twice.json', fixed);
    expect((await cli('quarantine', 'redrive', entry.id, '--file', fixedFile)).code).toBe(0);
    // Act
    const reply = await cli('quarantine', 'redrive', entry.id, '--file', fixedFile);
    // Assess
    expect(reply.code).toBe(1);
    expect(reply.err).toContain(`${entry.id} was already re-driven at`);
  });

  it('--force skips the same-claim check: the other claim is re-driven', async () => {
    // Prepare
    const { entry } = await quarantined(4248);
    const other = generateClaims(1, 98)[0]!;
    const otherRecord = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: other.claim_id }, newImage: other, micros: 1_731_924_555_932_000 });
    // Act
    const reply = await cli('quarantine', 'redrive', entry.id, '--file', file('forced-other-claim.json', otherRecord), '--force');
    // Assess
    expect(reply.err).toBe('');
    expect(reply.code).toBe(0);
    expect(reply.out).toMatch(new RegExp(`^${entry.id} re-driven to the Kinesis stream`));
  });

  it('verify: an unprocessable DynamoDB item fails until its quarantined change is fixed and re-driven, then it names the item as still to fix', async () => {
    // Prepare: an item written straight to DynamoDB with the charge as text: its INSERT is quarantined.
    const bad = generateClaims(1, 31337)[0]!;
    const record = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: bad.claim_id }, newImage: { ...bad, total_charge: String(bad.total_charge) }, micros: Date.now() * 1000 });
    const known = new Set((await list()).map((e) => e.id));
    const dynamodb = new DynamoDBClient({ endpoint: fixture.info!.endpoints.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    try {
      await dynamodb.send(new PutItemCommand({ TableName: 'InsuranceClaims', Item: record.dynamodb.NewImage as unknown as Record<string, AttributeValue> }));
    } finally {
      dynamodb.destroy();
    }
    const entry = await waitUntil(async () => (await list()).find((e) => !known.has(e.id)), 'the bad item quarantined');
    const verify = async () => {
      const reply = await cli('verify', '--json', '--settle', '5');
      return { code: reply.code, result: JSON.parse(reply.out) as VerifyResult };
    };
    const before = await verify();
    // Act: the user's fix of the quarantined record, re-driven.
    const shown = await cli('quarantine', 'show', entry.id);
    const fixed = JSON.parse(shown.out) as { dynamodb: { NewImage: Record<string, unknown> } };
    fixed.dynamodb.NewImage.total_charge = { N: String(bad.total_charge) };
    const redrive = await cli('quarantine', 'redrive', entry.id, '--file', file('fixed-item.json', fixed));
    await waitUntil(async () => (await callStackControl<unknown[]>(fixture.info!, 'sql', { sql: `SELECT claimId FROM openflow_insclaim_dest_tbl WHERE claimId = '${bad.claim_id}'` })).length > 0, 'the fix in the destination');
    const after = await verify();
    // Assess: before, a failing unprocessable item; after, not failing, but named as an item to fix in DynamoDB.
    expect(redrive.code).toBe(0);
    expect(before.result.unprocessable.map((u) => u.claimId)).toEqual([bad.claim_id]);
    expect(before.result.fixedByRedrive).toEqual([]);
    expect(after.result.unprocessable).toEqual([]);
    expect(after.result.fixedByRedrive).toEqual([{ claimId: bad.claim_id, reason: expect.stringContaining('total_charge') }]);
    // Claims other tests put on the stream alone have no item: they can only be extra, never missing or differing.
    expect(after.result).toMatchObject({ missing: [], differing: [], duplicated: [] });
    expect(after.result.extra).not.toContain(bad.claim_id);
    const text = describeVerify(after.result).join('\n');
    expect(text).toContain(`! re-driven from quarantine, the destination matches the fix, but the item in DynamoDB still cannot be processed (1): fix it there too`);
    expect(text).toMatch(new RegExp(`^    ${bad.claim_id}: .*total_charge`, 'm'));
    expect(text).not.toContain(String(bad.total_charge));
  });

  it('answers bad arguments with one usage line and exit code 2', async () => {
    // Act + Assess
    expect(await cli('quarantine', 'explode')).toMatchObject({ code: 2, err: expect.stringContaining("unknown quarantine action 'explode'") });
    expect(await cli('quarantine', 'show')).toMatchObject({ code: 2, err: expect.stringContaining('needs an ID') });
    expect(await cli('quarantine', 'redrive', 'abc')).toMatchObject({ code: 2, err: expect.stringContaining('--file') });
  });
});

describe('claims-cdc quarantine after the stack has stopped', () => {
  const { fixture, cli, list, file, quarantined } = quarantineStack();

  it('still lists the entries from the state directory, and says a re-drive needs the running stack', async () => {
    // Prepare: an entry re-driven while the stack ran.
    const { fixed, entry } = await quarantined(4250);
    const fixedFile = file('fixed.json', fixed);
    expect((await cli('quarantine', 'redrive', entry.id, '--file', fixedFile)).code).toBe(0);
    // Act
    fixture.child!.signal('SIGTERM');
    expect(await fixture.child!.exited).toBe(0);
    const entries = await list();
    // Assess
    expect(existsSync(path.join(fixture.stateDir, 'stack.json'))).toBe(false);
    expect(entries.find((e) => e.id === entry.id)).toMatchObject({ reason: 'claim-schema', redriven: { target: 'stream' } });
    const redrive = await cli('quarantine', 'redrive', entry.id, '--file', fixedFile);
    expect(redrive.code).toBe(1);
    expect(redrive.err).toContain('needs the running stack');
  });
});
