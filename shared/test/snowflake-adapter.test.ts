/**
 * The Snowflake adapter through the REAL snowflake-sdk, against a local fake of Snowflake's REST endpoint
 * (test-support/fake-snowflake.ts). Asserts what the driver sends: JWT login, statements, binds, transaction
 * boundaries, error handling. Whether Snowflake accepts that SQL is outside what this can prove (docs/snowflake.md).
 */
import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type { Claim } from '../src/domain/claim';
import { type ClaimRow, PHI_COLUMNS, ROW_COLUMNS } from '../src/domain/columns';
import { ConfigurationError } from '../src/domain/errors';
import { NOTHING_MERGED, WarehouseDataError, WarehouseDeadlineError, WarehouseError } from '../src/warehouse/port';
import { stageIsolating } from '../src/warehouse/stage-isolating';
import { ROLLBACK_GRACE_MS, type SnowflakeOptions, SnowflakeWarehouse } from '../src/warehouse/snowflake';
import { LOGOUT_GRACE_MS } from '../src/warehouse/snowflake-session';
import type { SnowflakeKeySource } from '../src/warehouse/snowflake-credentials';
import { loadSnowflakeKeyPair } from '../src/warehouse/snowflake-credentials';
import { FakeSnowflake, type RecordedLogin, type RecordedStatement } from '../test-support/fake-snowflake';
import { claims, row } from '../test-support/factories';

// The driver probes cloud metadata endpoints when it loads unless told not to; it is loaded lazily by the adapter.
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';
process.env.AWS_REGION ??= 'us-east-1';

const PASSPHRASE = 'correct horse battery staple';
const { privateKey: PRIVATE_KEY_PEM, publicKey: PUBLIC_KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const keyDir = mkdtempSync(join(tmpdir(), 'claims-cdc-sf-'));
const KEY_PATH = join(keyDir, 'rsa_key.p8');
writeFileSync(KEY_PATH, PRIVATE_KEY_PEM);
const FILE_KEY: SnowflakeKeySource = { kind: 'file', path: KEY_PATH, passphrase: PASSPHRASE };
// A private key file (with its passphrase above) must not outlive the run in the shared temp dir.
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

const T = 1_732_000_000_000_000;
const [a, b, c] = claims(3, 21) as [Claim, Claim, Claim];
const batch: ClaimRow[] = [
  row({ eventName: 'INSERT', claim: a, micros: T, eventId: 'sf-e1', seq: '100' }),
  row({ eventName: 'INSERT', claim: b, micros: T + 1, eventId: 'sf-e2', seq: '101' }),
  row({ eventName: 'MODIFY', claim: { ...a, claim_status: 'Rejected' }, micros: T + 2, eventId: 'sf-e3', seq: '102' }),
  row({ eventName: 'INSERT', claim: c, micros: T + 3, eventId: 'sf-e4', seq: '103' }),
  row({ eventName: 'INSERT', claim: c, micros: T + 3, eventId: 'sf-e4', seq: '103' }),
];
/** Every PHI value in the batch: none may ever appear in an error message. */
const phiValues = batch.flatMap((r) => PHI_COLUMNS.map((name) => r[name]).filter((v) => v !== null && v !== undefined).map(String));

/**
 * The expected SQL below is written out by hand, never produced by the Dialect the adapter itself uses (a test that
 * asked the same object for its expectation could only fail on statement order). It names the tables and the
 * staging table's run column literally: openflow_insclaim_{cdc,dest,event_hist,tombstone}_tbl and mergeRunId.
 */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
/** Escapes `text` for use inside a RegExp. */
const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The indexes of the statements each test picks out of `sent` (an empty list when none). */
const positions = (sent: readonly string[], tests: Record<string, (sql: string) => boolean>): Record<string, number[]> =>
  Object.fromEntries(Object.entries(tests).map(([name, test]) => [name, sent.flatMap((sql, i) => (test(sql) ? [i] : []))]));

const base = (fake: FakeSnowflake, keySource: SnowflakeKeySource = FILE_KEY): SnowflakeOptions => ({
  account: 'acme-claims',
  username: 'claims_cdc_svc',
  database: 'CLAIMS_CDC',
  schema: 'CDC',
  warehouse: 'CLAIMS_CDC_WH',
  role: 'CLAIMS_CDC_ROLE',
  accessUrl: fake.url,
  keySource,
});

const loginsOf = (fake: FakeSnowflake, kind: string): RecordedLogin[] => fake.logins.filter((l) => l.sessionParameters.QUERY_TAG === `claims-cdc:${kind}`);
const sessionOf = (fake: FakeSnowflake, kind: string): string => (loginsOf(fake, kind).at(-1) as RecordedLogin).sessionToken;

const fingerprint = (publicKey: string | KeyObject): string =>
  `SHA256:${createHash('sha256').update(createPublicKey(publicKey).export({ type: 'spki', format: 'der' })).digest('base64')}`;

/** Decodes a JWT and checks its RS256 signature against `publicKey`. */
const decodeJwt = (token: string, publicKey: string) => {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>,
    signedByKey: verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url')),
  };
};

describe('SnowflakeWarehouse against a fake Snowflake endpoint, through the real snowflake-sdk', () => {
  let fake: FakeSnowflake;
  let warehouse: SnowflakeWarehouse;

  beforeEach(async () => {
    fake = await FakeSnowflake.start();
  });

  afterEach(async () => {
    await warehouse?.close();
    await fake.close();
  });

  it('logs in with SNOWFLAKE_JWT: a JWT signed by the configured key, no password, the configured context', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^SELECT 1/, { rows: [{ ONE: 1 }] });
    // Act
    const rows = await warehouse.query('SELECT 1 AS one');
    // Assess
    expect(rows).toEqual([{ ONE: 1 }]);
    expect(fake.logins).toHaveLength(1);
    const [login] = fake.logins as [RecordedLogin];
    expect(login).toMatchObject({ authenticator: 'SNOWFLAKE_JWT', accountName: 'acme-claims', loginName: 'claims_cdc_svc', password: undefined });
    expect(login.params).toMatchObject({ warehouse: 'CLAIMS_CDC_WH', databaseName: 'CLAIMS_CDC', schemaName: 'CDC', roleName: 'CLAIMS_CDC_ROLE' });
    const jwt = decodeJwt(login.token, PUBLIC_KEY);
    expect(jwt.header.alg).toBe('RS256');
    expect(jwt.signedByKey).toBe(true);
    expect(jwt.payload.sub).toBe('ACME-CLAIMS.CLAIMS_CDC_SVC');
    expect(jwt.payload.iss).toBe(`ACME-CLAIMS.CLAIMS_CDC_SVC.${fingerprint(PUBLIC_KEY)}`);
    // The key and passphrase never travel; the session gets a lock timeout shorter than any Lambda run.
    expect(JSON.stringify(fake.logins)).not.toContain(PASSPHRASE);
    expect(JSON.stringify(fake.logins)).not.toContain('PRIVATE KEY');
    expect(fake.sql(login.sessionToken)).toEqual(['ALTER SESSION SET LOCK_TIMEOUT = 120', 'SELECT 1 AS one']);
  });

  it('does not log in until first used, and reuses its session', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    // Act
    const before = fake.logins.length;
    await warehouse.query('SELECT 1');
    await warehouse.query('SELECT 2');
    // Assess
    expect(before).toBe(0);
    expect(fake.logins).toHaveLength(1);
  });

  it('stages: temp load table before BEGIN, binds in chunks under the threshold, the two stageFrom statements, COMMIT', async () => {
    // Prepare: a threshold of two rows' worth of binds, so five rows take three INSERTs
    warehouse = new SnowflakeWarehouse({ ...base(fake), arrayBindingThreshold: ROW_COLUMNS.length * 2 });
    fake.on(/^INSERT INTO openflow_insclaim_cdc_tbl /, { dml: { 'number of rows inserted': 4 } });
    // Act
    const result = await warehouse.stage(batch);
    // Assess
    expect(result).toEqual({ received: 5, staged: 4 });
    const statements = fake.statements.filter((s) => s.sessionToken === sessionOf(fake, 'stage'));
    const sent = statements.map((s) => s.sql);
    // One placeholder per column a change event carries: the 32 quickstart columns + eventId, sequenceNumber, rawImage.
    const insert = `INSERT INTO claims_cdc_load_batch VALUES (${Array.from({ length: 35 }, () => '?').join(', ')})`;
    // Where things happen: the temp table (DDL, which would commit an open transaction) and its binds before BEGIN;
    // the move into staging and history between the one BEGIN and the one COMMIT, which comes last.
    expect(
      positions(sent, {
        lockTimeout: (sql) => sql === 'ALTER SESSION SET LOCK_TIMEOUT = 120',
        createLoadTable: (sql) => sql.startsWith('CREATE OR REPLACE TEMPORARY TABLE claims_cdc_load_batch ('),
        binds: (sql) => sql === insert,
        begin: (sql) => sql === 'BEGIN TRANSACTION',
        toStaging: (sql) => sql.startsWith('INSERT INTO openflow_insclaim_cdc_tbl ('),
        toHistory: (sql) => sql.startsWith('MERGE INTO openflow_insclaim_event_hist_tbl USING ('),
        commit: (sql) => sql === 'COMMIT',
      }),
    ).toEqual({ lockTimeout: [0], createLoadTable: [1], binds: [2, 3, 4], begin: [5], toStaging: [6], toHistory: [7], commit: [8] });
    expect(sent).toHaveLength(9);
    // The load table holds the staged types: text for timestamps and JSON, nothing the warehouse fills in.
    const [, create, , , , , toStaging, toHistory] = sent as [string, string, string, string, string, string, string, string];
    expect(create).toMatch(/^CREATE OR REPLACE TEMPORARY TABLE claims_cdc_load_batch \(eventName STRING, eventCreationUnixTime STRING, claimId STRING, /);
    for (const column of ['totalCharge FLOAT', 'patientZip INTEGER', 'patientGender STRING', 'createdTimeStamp STRING', 'eventId STRING', 'sequenceNumber STRING']) {
      expect(create).toContain(`, ${column}, `);
    }
    expect(create).toMatch(/, rawImage STRING\)$/);
    expect(create).not.toMatch(/loadedAt|mergeRunId/);
    // Staging gets each new event once, unclaimed (mergeRunId NULL), converted to the table's types; history by eventId.
    const fresh =
      'FROM (SELECT * FROM claims_cdc_load_batch QUALIFY ROW_NUMBER() OVER (PARTITION BY eventId ORDER BY eventId) = 1) b ' +
      'WHERE NOT EXISTS (SELECT 1 FROM openflow_insclaim_event_hist_tbl h WHERE h.eventId = b.eventId)';
    expect(toStaging).toMatch(/^INSERT INTO openflow_insclaim_cdc_tbl \(eventName, eventCreationUnixTime, claimId, [^)]*, eventId, sequenceNumber, rawImage, loadedAt, mergeRunId\) SELECT /);
    expect(toStaging).toMatch(new RegExp(`, CAST\\('[^']+' AS TIMESTAMP_NTZ\\(9\\)\\), NULL ${literal(fresh)}$`));
    // An explicit format: Snowflake would otherwise parse by the session's TIMESTAMP_INPUT_FORMAT.
    expect(toStaging).toContain(`TO_TIMESTAMP_NTZ(b.createdTimeStamp, 'YYYY-MM-DD"T"HH24:MI:SS.FF"Z"')`);
    expect(toStaging).toContain('PARSE_JSON(b.rawImage)');
    expect(toHistory).toContain(`${fresh}) s ON openflow_insclaim_event_hist_tbl.eventId = s.eventId WHEN NOT MATCHED THEN INSERT (`);
    expect(toHistory).not.toContain('WHEN MATCHED');
    // Both carry the same load time.
    const loadedAt = (sql: string) => sql.match(/CAST\('([^']+)' AS TIMESTAMP_NTZ\(9\)\)/g);
    expect(loadedAt(toStaging)).toHaveLength(1);
    expect(loadedAt(toHistory)).toEqual(loadedAt(toStaging));
    // Binds: inline (never a stage upload), every column as TEXT or NULL, every row and value arrives in order.
    const inserts = statements.filter((s) => s.sql === insert);
    expect(inserts.map((s) => s.bindStage)).toEqual([undefined, undefined, undefined]);
    expect(inserts.map((s) => (s.bindings?.['1']?.value as unknown[]).length)).toEqual([2, 2, 1]);
    const received: Array<Array<string | null>> = [];
    for (const s of inserts) {
      const bindings = s.bindings as NonNullable<RecordedStatement['bindings']>;
      expect(Object.keys(bindings)).toHaveLength(ROW_COLUMNS.length);
      expect(new Set(Object.values(bindings).map((x) => x.type))).toEqual(new Set(['TEXT']));
      const rows = (bindings['1']?.value as unknown[]).length;
      for (let i = 0; i < rows; i += 1) received.push(ROW_COLUMNS.map((_, j) => (bindings[String(j + 1)]?.value as Array<string | null>)[i] as string | null));
    }
    expect(received).toEqual(batch.map((r) => ROW_COLUMNS.map((col) => (r[col.name] === null || r[col.name] === undefined ? null : String(r[col.name])))));
    expect(received.map((r) => r[ROW_COLUMNS.findIndex((col) => col.name === 'patientLastName')])).toEqual(batch.map((r) => r.patientLastName));
  });

  it('merges: BEGIN, PHI_READER probe, claim, stats, MERGE destination, MERGE tombstones, DELETE, COMMIT, hooks between steps, stats mapped', async () => {
    // Prepare: Snowflake reports unquoted aliases in upper case
    // (the clock is the commit time the freshness delays are measured to: 2025-06-15T14:40:00Z)
    warehouse = new SnowflakeWarehouse({ ...base(fake), clock: () => 1_750_000_000_000 });
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 3, 'number of multi-joined rows updated': 0 } });
    fake.on(/^WITH latest AS/, {
      rows: [
        {
          EVENTS: 3,
          EVENTMICROSP50: 1_749_999_999_000_000,
          EVENTMICROSP01: 1_749_999_997_500_000,
          OLDESTEVENTMICROS: 1_749_999_996_000_250,
          CLAIMS: 2,
          INSERTED: 1,
          UPDATED: 0,
          DELETED: 1,
          TOMBSTONEDONLY: 0,
          STALE: 0,
          DUPLICATES: 2,
        },
      ],
    });
    const steps: string[] = [];
    // Act
    const result = await warehouse.merge((step) => {
      steps.push(`${step}@${fake.statements.length}`);
    });
    // Assess
    const statements = fake.statements.filter((s) => s.sessionToken === sessionOf(fake, 'merge'));
    const sent = statements.map((s) => s.sql);
    expect(sent).toHaveLength(9);
    const [lockTimeout, begin, probe, claim, stats, toDestination, toTombstones, deleteClaimed, commit] = sent as [string, string, string, string, string, string, string, string, string];
    // Everything from the claim to the delete runs in one transaction, and COMMIT ends the session's work.
    expect([lockTimeout, begin, commit]).toEqual(['ALTER SESSION SET LOCK_TIMEOUT = 120', 'BEGIN TRANSACTION', 'COMMIT']);
    // Before anything is written, the transaction asks whether the session sees clear PHI (what the masking policies test).
    expect(probe).toBe("SELECT IS_ROLE_IN_SESSION('PHI_READER') AS phiReader");
    // The claim marks exactly the unclaimed rows with a fresh run id...
    const claimed = new RegExp(`^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId = '(${UUID.source})' WHERE mergeRunId IS NULL$`).exec(claim);
    expect(claimed).not.toBeNull();
    const runId = (claimed as RegExpExecArray)[1] as string;
    // ...the plan reads only the rows of that run (the version order inside it is another test's business)...
    const claimedRows = `FROM openflow_insclaim_cdc_tbl WHERE mergeRunId = '${runId}'`;
    expect(stats).toMatch(/^WITH latest AS \(/);
    expect(stats).toContain(claimedRows);
    // ...and reads the claimed events' creation times for the freshness percentiles (exact, as DuckDB's quantile_cont)...
    expect(stats).toContain(
      `SELECT c.*, p.* FROM (SELECT COUNT(*) AS events, PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY m) AS eventMicrosP50, PERCENTILE_CONT(0.01) WITHIN GROUP (ORDER BY m) AS eventMicrosP01, MIN(m) AS oldestEventMicros FROM (SELECT TRY_CAST(eventCreationUnixTime AS FLOAT) AS m FROM openflow_insclaim_cdc_tbl WHERE mergeRunId = '${runId}') e) c CROSS JOIN (SELECT COUNT(*) AS claims, `,
    );
    // ...the destination is keyed by claimId...
    expect(toDestination).toMatch(/^MERGE INTO openflow_insclaim_dest_tbl USING \(/);
    expect(toDestination).toContain(claimedRows);
    expect(toDestination).toContain(') s ON openflow_insclaim_dest_tbl.claimId = s.mergeKey WHEN ');
    // ...tombstones too...
    expect(toTombstones).toMatch(/^MERGE INTO openflow_insclaim_tombstone_tbl USING \(/);
    expect(toTombstones).toContain(claimedRows);
    expect(toTombstones).toContain(') s ON openflow_insclaim_tombstone_tbl.claimId = s.mergeKey WHEN ');
    // ...and exactly that run's rows leave staging (rows staged meanwhile stay for the next run).
    expect(deleteClaimed).toBe(`DELETE FROM openflow_insclaim_cdc_tbl WHERE mergeRunId = '${runId}'`);
    // No statement names any other run.
    expect(new Set(sent.join('\n').match(new RegExp(UUID.source, 'g')))).toEqual(new Set([runId]));
    // Freshness: commit − median time, commit − 1st-percentile time (the 99th percentile delay), commit − oldest time.
    expect(result).toEqual({ runId, events: 3, claims: 2, inserted: 1, updated: 0, deleted: 1, tombstonedOnly: 0, stale: 0, duplicates: 2, freshness: { p50Ms: 1000, p99Ms: 2500, maxMs: 3999.75 } });
    // Statements counted across all sessions; the merge session's statements come last.
    const at = (i: number) => fake.statements.indexOf(statements[i] as RecordedStatement) + 1;
    expect(steps).toEqual([`claimed@${at(3)}`, `planned@${at(4)}`, `applied@${at(6)}`, `deleted@${at(7)}`]);
  });

  it('merges against one row per claim and repairs duplicate keys in its two MERGEs (Snowflake enforces no key)', async () => {
    // Prepare: a duplicate claimId in the destination or the tombstones must never give a target row two source rows
    // ("Duplicate row detected", ERROR_ON_NONDETERMINISTIC_MERGE), and no temp table may end the transaction.
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    fake.on(/^WITH latest AS/, { rows: [{ EVENTS: 2, CLAIMS: 1, UPDATED: 1, DUPLICATES: 3 }] });
    // Act
    const result = await warehouse.merge();
    // Assess
    const sent = fake.sql(sessionOf(fake, 'merge'));
    const stats = sent.find((s) => s.startsWith('WITH latest AS')) as string;
    const toDestination = sent.find((s) => s.startsWith('MERGE INTO openflow_insclaim_dest_tbl')) as string;
    const toTombstones = sent.find((s) => s.startsWith('MERGE INTO openflow_insclaim_tombstone_tbl')) as string;
    expect(sent.some((s) => /^(CREATE|DROP|ALTER TABLE)\b/.test(s))).toBe(false);
    for (const statement of [stats, toDestination, toTombstones]) {
      // The plan reads the newest destination row and tombstone of each claim of the run, and how many there are...
      expect(statement).toContain(
        ', newestTombstone AS (SELECT *, COUNT(*) OVER (PARTITION BY claimId) AS copies FROM openflow_insclaim_tombstone_tbl x WHERE claimId IN (SELECT claimId FROM latest) QUALIFY ROW_NUMBER() OVER (PARTITION BY claimId ORDER BY ',
      );
      expect(statement).toContain(
        ', newestDestination AS (SELECT *, COUNT(*) OVER (PARTITION BY claimId) AS copies FROM openflow_insclaim_dest_tbl x WHERE claimId IN (SELECT claimId FROM latest) QUALIFY ROW_NUMBER() OVER (PARTITION BY claimId ORDER BY ',
      );
      expect(statement).toContain(' DESC, eventId DESC) = 1)');
      // ...and joins those, never the tables themselves.
      expect(statement).toContain('FROM latest l LEFT JOIN newestTombstone t ON t.claimId = l.claimId LEFT JOIN newestDestination d ON d.claimId = l.claimId)');
      expect(statement).not.toMatch(/JOIN openflow_insclaim_(dest|tombstone)_tbl/);
    }
    // The count of extra rows, for the claims of the run.
    expect(stats).toContain('COALESCE(SUM(GREATEST(destCopies - 1, 0) + GREATEST(tombstoneCopies - 1, 0)), 0) AS duplicates FROM plan');
    // Destination: a claim with copies gets one 'clear' row (deletes them all) and, unless it is removed, one
    // 'reinsert' row whose NULL key matches nothing (the new event, or the newest copy when the event is stale).
    expect(toDestination).toContain("mergeAction, 'apply' AS mergeRole, claimId AS mergeKey FROM plan WHERE mergeAction <> 'stale' AND destCopies < 2 UNION ALL SELECT ");
    expect(toDestination).toContain("'delete', 'clear', claimId FROM plan WHERE destCopies > 1 UNION ALL SELECT ");
    expect(toDestination).toContain("'upsert', 'reinsert', CAST(NULL AS STRING) FROM plan WHERE destCopies > 1 AND mergeAction = 'upsert' UNION ALL SELECT d.eventName, ");
    expect(toDestination).toContain(
      "'upsert', 'reinsert', CAST(NULL AS STRING) FROM plan p JOIN newestDestination d ON d.claimId = p.claimId WHERE p.destCopies > 1 AND p.mergeAction = 'stale') s ON ",
    );
    expect(toDestination).toContain("s.mergeKey WHEN MATCHED AND s.mergeAction = 'delete' THEN DELETE WHEN MATCHED THEN UPDATE SET ");
    // Tombstones: the same, keeping the new REMOVE's tombstone or else the newest copy.
    expect(toTombstones).toContain("'clear', claimId FROM plan WHERE tombstoneCopies > 1 UNION ALL SELECT ");
    expect(toTombstones).toContain("'reinsert', CAST(NULL AS STRING) FROM plan WHERE tombstoneCopies > 1 AND mergeAction = 'delete' UNION ALL SELECT ");
    expect(toTombstones).toContain(
      "t.claimId, t.eventCreationUnixTime, t.sequenceNumber, t.eventId, t.deletedAt, 'reinsert', CAST(NULL AS STRING) FROM plan p JOIN newestTombstone t ON t.claimId = p.claimId WHERE p.tombstoneCopies > 1 AND p.mergeAction <> 'delete') s ON ",
    );
    expect(toTombstones).toContain("s.mergeKey WHEN MATCHED AND s.mergeRole = 'clear' THEN DELETE WHEN MATCHED THEN UPDATE SET ");
    expect(toTombstones).toContain("WHEN NOT MATCHED AND s.mergeRole <> 'clear' THEN INSERT ");
    expect(result).toMatchObject({ events: 2, claims: 1, updated: 1, duplicates: 3 });
  });

  it('a merge with nothing staged commits right after the claim and reports nothing', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    // Act
    const result = await warehouse.merge();
    // Assess
    expect(result).toEqual(NOTHING_MERGED);
    expect(fake.sql(sessionOf(fake, 'merge')).slice(1).map((s) => s.split(' ')[0])).toEqual(['BEGIN', 'SELECT', 'UPDATE', 'COMMIT']);
  });

  it('a failing merge statement rolls back and surfaces a WarehouseError with no PHI; the session is kept', async () => {
    // Prepare: Snowflake quotes the offending value in conversion errors
    warehouse = new SnowflakeWarehouse(base(fake));
    const surname = String(batch[0]?.patientLastName);
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 1, 'number of multi-joined rows updated': 0 } });
    fake.on(/^MERGE INTO openflow_insclaim_dest_tbl/, { error: { code: '100038', sqlState: '22018', message: `Numeric value '${surname}' is not recognized` } }, 1);
    // Act
    const failure = await warehouse.merge().catch((error: unknown) => error);
    await warehouse.merge();
    // Assess
    expect(failure).toBeInstanceOf(WarehouseError);
    const message = (failure as Error).message;
    expect(message).toMatch(/^snowflake merge: MERGE into destination failed \(code 100038, SQLSTATE 22018, query [0-9a-f-]{36}\): Numeric value '…' is not recognized$/);
    expect(message).not.toContain(surname);
    const verbs = fake.sql(sessionOf(fake, 'merge')).map((s) => s.split(' ')[0]);
    expect(verbs).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'ROLLBACK', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'DELETE', 'COMMIT']);
    expect(loginsOf(fake, 'merge')).toHaveLength(1);
  });

  it('a failing stage statement rolls back; no bind or server-quoted value reaches the error', async () => {
    // Prepare: a history insert that fails with a message quoting row values, as a duplicate-row error would
    warehouse = new SnowflakeWarehouse(base(fake));
    const dump = `Duplicate row detected during DML action Row Values: [${phiValues.map((v) => `"${v}"`).join(', ')}, 94107]`;
    fake.on(/^MERGE INTO openflow_insclaim_event_hist_tbl/, { error: { code: '100090', sqlState: '42P18', message: `'${phiValues[0]}' ${dump}` } });
    // Act
    const failure = await warehouse.stage(batch).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseError);
    const message = (failure as Error).message;
    expect(message).toContain('snowflake stage: merge into history failed (code 100090, SQLSTATE 42P18');
    for (const value of phiValues) expect(message).not.toContain(value);
    expect(message).not.toContain('94107');
    expect(fake.sql(sessionOf(fake, 'stage')).slice(-4).map((s) => s.split(' ').slice(0, 3).join(' '))).toEqual([
      'BEGIN TRANSACTION',
      'INSERT INTO openflow_insclaim_cdc_tbl',
      'MERGE INTO openflow_insclaim_event_hist_tbl',
      'ROLLBACK',
    ]);
  });

  it('a data exception (SQLSTATE 22xxx) is a WarehouseDataError: the load bisects and quarantines only the refused row', async () => {
    // Prepare: Snowflake refuses any staging INSERT whose load table holds the bad event (a timestamp it cannot read)
    warehouse = new SnowflakeWarehouse(base(fake));
    const badEventId = String(batch[1]?.eventId);
    let holdsBad = false;
    fake.on(/^CREATE OR REPLACE TEMPORARY TABLE/, () => {
      holdsBad = false;
      return { rows: [{ status: 'ok' }] };
    });
    fake.on(/^INSERT INTO claims_cdc_load_batch/, (statement) => {
      holdsBad = JSON.stringify(statement.bindings ?? {}).includes(badEventId);
      const first = statement.bindings?.['1']?.value;
      return { dml: { 'number of rows inserted': Array.isArray(first) ? first.length : 0 } };
    });
    fake.on(/^INSERT INTO openflow_insclaim_cdc_tbl/, () =>
      holdsBad ? { error: { code: '100035', sqlState: '22007', message: "Timestamp '2024-02-30T10:00:00.000000Z' is not recognized" } } : { dml: { 'number of rows inserted': 1 } },
    );
    // Act
    const failure = await warehouse.stage(batch).catch((error: unknown) => error);
    const isolated = await stageIsolating(warehouse, batch);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseDataError);
    expect((failure as Error).message).not.toContain('2024-02-30');
    expect(isolated.rejected.map((r) => r.index)).toEqual([1]);
    expect(isolated.rejected[0]?.detail).toContain('SQLSTATE 22007');
  });

  it('any other SQLSTATE stays a plain WarehouseError (retried, never quarantined)', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^INSERT INTO openflow_insclaim_cdc_tbl/, { error: { code: '000625', sqlState: '57014', message: 'Statement reached its statement or warehouse timeout' } });
    // Act
    const failure = await warehouse.stage(batch).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseError);
    expect(failure).not.toBeInstanceOf(WarehouseDataError);
  });

  it('a hook that throws (a crash between steps) rolls back and propagates, without a retry', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    const crash = new Error('crash after applied');
    // Act
    const failure = await warehouse
      .merge((step) => {
        if (step === 'applied') throw crash;
      })
      .catch((error: unknown) => error);
    // Assess
    expect(failure).toBe(crash);
    expect(fake.sql(sessionOf(fake, 'merge')).map((s) => s.split(' ')[0])).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'ROLLBACK']);
  });

  it('a session whose ROLLBACK fails is logged out and never reused (it may still hold the transaction)', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 1, 'number of multi-joined rows updated': 0 } });
    fake.on(/^DELETE/, { error: { code: '000625', message: 'Statement reached its statement or warehouse timeout' } }, 1);
    fake.on(/^ROLLBACK/, { error: { code: '000630', message: 'Statement reached its statement or warehouse timeout' } }, 1);
    // Act
    const failure = await warehouse.merge().catch((error: unknown) => error);
    await warehouse.merge();
    // Assess
    expect(failure).toBeInstanceOf(WarehouseError);
    const [first, second] = loginsOf(fake, 'merge') as [RecordedLogin, RecordedLogin];
    expect(fake.sql(first.sessionToken).at(-1)).toBe('ROLLBACK');
    expect(fake.sql(second.sessionToken).map((sql) => sql.split(' ')[0])).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'DELETE', 'COMMIT']);
    expect(fake.requests.filter((path) => path === '/session')).toHaveLength(1);
  });

  it('reconnects when the session is gone (expired between invocations) and runs the stage on the new session', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    await warehouse.stage(batch.slice(0, 1));
    fake.dropSessions();
    // Act
    const result = await warehouse.stage(batch.slice(1, 2));
    // Assess
    expect(result.received).toBe(1);
    expect(loginsOf(fake, 'stage')).toHaveLength(2);
    expect(fake.sql(sessionOf(fake, 'stage')).map((s) => s.split(' ')[0])).toEqual(['ALTER', 'CREATE', 'INSERT', 'BEGIN', 'INSERT', 'MERGE', 'COMMIT']);
  });

  it('a session that dies mid-merge is replaced and the whole merge runs again from BEGIN on the new one', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    fake.on(/^MERGE INTO openflow_insclaim_tombstone_tbl/, { goneSession: true }, 1);
    // Act
    const result = await warehouse.merge();
    // Assess
    const [first, second] = loginsOf(fake, 'merge') as [RecordedLogin, RecordedLogin];
    expect(fake.sql(first.sessionToken).map((s) => s.split(' ')[0])).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE']);
    expect(fake.sql(second.sessionToken).map((s) => s.split(' ')[0])).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'DELETE', 'COMMIT']);
    expect(result.runId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('status reads upper-case columns', async () => {
    // Prepare
    warehouse = new SnowflakeWarehouse(base(fake));
    fake.on(/^SELECT \(SELECT COUNT\(\*\) FROM openflow_insclaim_cdc_tbl\) AS staged, /, { rows: [{ STAGED: 4, HISTORY: 10, DESTINATION: 6, TOMBSTONES: 1, OLDESTSTAGEDMICROS: T }] });
    // Act
    const status = await warehouse.status();
    // Assess
    expect(status).toEqual({ staged: 4, history: 10, destination: 6, tombstones: 1, oldestStagedMicros: T });
  });
});

describe('Snowflake calls bounded by the invocation deadline, and merges refused without PHI_READER', () => {
  let fake: FakeSnowflake;
  let warehouse: SnowflakeWarehouse;
  /** The bounded ALTER SESSION, parsed: undefined when the statement is not one. */
  const bounds = (sql: string): { statement: number; lock: number } | undefined => {
    const m = /^ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = (\d+), LOCK_TIMEOUT = (\d+)$/.exec(sql);
    return m ? { statement: Number(m[1]), lock: Number(m[2]) } : undefined;
  };

  /**
   * Loads the driver and logs in once (on the query session), so a short deadline measures the call under test, not
   * the driver's first import.
   */
  const warmUp = () => warehouse.query('SELECT 1');

  beforeEach(async () => {
    fake = await FakeSnowflake.start();
    warehouse = new SnowflakeWarehouse(base(fake));
  });

  afterEach(async () => {
    await warehouse.close();
    await fake.close();
  });

  it('sets STATEMENT_TIMEOUT_IN_SECONDS and LOCK_TIMEOUT from the time left, before any work; back to the defaults without a deadline', async () => {
    // Prepare: a load with 20 s left, then a merge with 290 s left (more than the 120 s lock timeout), then a plain merge
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 1, 'number of multi-joined rows updated': 0 } });
    // Act
    await warehouse.stage(batch, { deadline: Date.now() + 20_000 });
    await warehouse.merge(undefined, { deadline: Date.now() + 290_000 });
    await warehouse.merge();
    // Assess: the stage session, bounded before the load table (DDL) and the transaction
    const stage = fake.sql(sessionOf(fake, 'stage'));
    expect(stage.slice(0, 3).map((sql) => sql.split(' ').slice(0, 3).join(' '))).toEqual(['ALTER SESSION SET', 'ALTER SESSION SET', 'CREATE OR REPLACE']);
    const forStage = bounds(stage[1] as string);
    expect(forStage?.statement).toBeLessThanOrEqual(20);
    expect(forStage?.statement).toBeGreaterThanOrEqual(15);
    expect(forStage?.lock).toBe(forStage?.statement);
    // The merge session: bounded before BEGIN, the lock wait capped by the configured 120 s; then reset for a call without a deadline.
    const mergeSql = fake.sql(sessionOf(fake, 'merge'));
    const forMerge = bounds(mergeSql[1] as string);
    expect(forMerge?.statement).toBeLessThanOrEqual(290);
    expect(forMerge?.statement).toBeGreaterThanOrEqual(285);
    expect(forMerge?.lock).toBe(120);
    expect(mergeSql[2]).toBe('BEGIN TRANSACTION');
    const second = mergeSql.indexOf('COMMIT') + 1;
    expect(mergeSql.slice(second, second + 3)).toEqual(['ALTER SESSION UNSET STATEMENT_TIMEOUT_IN_SECONDS', 'ALTER SESSION SET LOCK_TIMEOUT = 120', 'BEGIN TRANSACTION']);
  });

  it('a merge statement that never answers: fails at the deadline with a WarehouseDeadlineError, rolls back, logs the session out; the next merge logs in afresh', async () => {
    // Prepare: the destination MERGE waits (a lock, a hung query) and never answers
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    fake.on(/^MERGE INTO openflow_insclaim_dest_tbl/, { never: true }, 1);
    await warmUp();
    const deadline = Date.now() + 3_500;
    // Act
    const failure = await warehouse.merge(undefined, { deadline }).catch((error: unknown) => error);
    const failedAt = Date.now();
    const next = await warehouse.merge();
    // Assess: a retried infrastructure error saying the time ran out, raised no earlier than the deadline and no later
    // than the rollback and logout graces after it (what the handlers' margins pay for)
    expect(failure).toBeInstanceOf(WarehouseDeadlineError);
    expect(failure).toBeInstanceOf(WarehouseError);
    expect(failure).not.toBeInstanceOf(WarehouseDataError);
    expect((failure as Error).message).toMatch(/^snowflake merge: MERGE into destination failed: time ran out /);
    expect(failedAt).toBeGreaterThanOrEqual(deadline);
    expect(failedAt).toBeLessThan(deadline + ROLLBACK_GRACE_MS + LOGOUT_GRACE_MS + 1_000);
    const [first, fresh] = loginsOf(fake, 'merge') as [RecordedLogin, RecordedLogin];
    const sent = fake.sql(first.sessionToken);
    expect(bounds(sent[1] as string)?.statement).toBeLessThanOrEqual(3);
    expect(sent.map((sql) => sql.split(' ')[0])).toEqual(['ALTER', 'ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'ROLLBACK']);
    // The hung statement was cancelled (best effort) and the session logged out (Snowflake ends its transaction), never used again.
    expect(fake.requests).toContain('/queries/v1/abort-request');
    expect(fake.logouts).toEqual([first.sessionToken]);
    expect(fresh.sessionToken).not.toBe(first.sessionToken);
    expect(fake.sql(fresh.sessionToken).map((sql) => sql.split(' ')[0])).toEqual(['ALTER', 'BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'DELETE', 'COMMIT']);
    expect(next.events).toBe(0);
  });

  it('a stage waiting on the history lock past the deadline: a WarehouseDeadlineError (retried, never bisected), rolled back, session logged out', async () => {
    // Prepare
    fake.on(/^MERGE INTO openflow_insclaim_event_hist_tbl/, { never: true }, 1);
    await warmUp();
    const deadline = Date.now() + 3_500;
    // Act
    const failure = await warehouse.stage(batch, { deadline }).catch((error: unknown) => error);
    const isolated = await stageIsolating(warehouse, batch);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseDeadlineError);
    expect(failure).not.toBeInstanceOf(WarehouseDataError);
    expect((failure as Error).message).toMatch(/^snowflake stage: merge into history failed: time ran out /);
    for (const value of phiValues) expect((failure as Error).message).not.toContain(value);
    const [first, fresh] = loginsOf(fake, 'stage') as [RecordedLogin, RecordedLogin];
    expect(fake.sql(first.sessionToken).slice(-4).map((sql) => sql.split(' ').slice(0, 3).join(' '))).toEqual([
      'BEGIN TRANSACTION',
      'INSERT INTO openflow_insclaim_cdc_tbl',
      'MERGE INTO openflow_insclaim_event_hist_tbl',
      'ROLLBACK',
    ]);
    expect(fake.logouts).toEqual([first.sessionToken]);
    expect(fake.sql(fresh.sessionToken).at(-1)).toBe('COMMIT');
    expect(isolated.attempts).toBe(1);
  });

  it('a call whose deadline has already passed fails before logging in or sending anything', async () => {
    // Act
    const failure = await warehouse.merge(undefined, { deadline: Date.now() - 1 }).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseDeadlineError);
    expect((failure as Error).message).toMatch(/^snowflake login failed: time ran out /);
    expect(fake.logins).toHaveLength(0);
    expect(fake.statements).toHaveLength(0);
  });

  it.each([
    ['PHI_READER revoked (IS_ROLE_IN_SESSION is FALSE)', undefined],
    ['the probe answers NULL', { rows: [{ PHIREADER: null }] }],
    ['the probe answers no row', { rows: [] }],
  ] as const)('refuses to merge when %s: a clear WarehouseError, rolled back, nothing claimed or merged', async (_name, reply) => {
    // Prepare: rows are waiting in staging, but the session would read them masked
    if (reply === undefined) fake.sessionRoles.delete('PHI_READER');
    else fake.on(/IS_ROLE_IN_SESSION/, reply);
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    // Act
    const failure = await warehouse.merge().catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(WarehouseError);
    expect(failure).not.toBeInstanceOf(WarehouseDataError);
    expect((failure as Error).message).toMatch(/^snowflake merge refused: role PHI_READER is not in the session .* Nothing was merged \(rolled back\)\. Grant PHI_READER to the pipeline role/);
    const sent = fake.sql(sessionOf(fake, 'merge'));
    expect(sent).toEqual(['ALTER SESSION SET LOCK_TIMEOUT = 120', 'BEGIN TRANSACTION', "SELECT IS_ROLE_IN_SESSION('PHI_READER') AS phiReader", 'ROLLBACK']);
    // A refusal is not a broken session: it stays logged in for the next run.
    expect(fake.logouts).toEqual([]);
  });

  it('merges once PHI_READER is granted again, on the same session', async () => {
    // Prepare
    fake.sessionRoles.delete('PHI_READER');
    fake.on(/^UPDATE openflow_insclaim_cdc_tbl SET mergeRunId/, { dml: { 'number of rows updated': 2, 'number of multi-joined rows updated': 0 } });
    const refused = await warehouse.merge().catch((error: unknown) => error);
    fake.sessionRoles.add('PHI_READER');
    // Act
    const result = await warehouse.merge();
    // Assess
    expect(refused).toBeInstanceOf(WarehouseError);
    expect(result.runId).toMatch(UUID);
    expect(loginsOf(fake, 'merge')).toHaveLength(1);
    expect(fake.sql(sessionOf(fake, 'merge')).slice(4).map((sql) => sql.split(' ')[0])).toEqual(['BEGIN', 'SELECT', 'UPDATE', 'WITH', 'MERGE', 'MERGE', 'DELETE', 'COMMIT']);
  });
});

describe('Snowflake key pair sources', () => {
  const secrets = mockClient(SecretsManagerClient);
  let fake: FakeSnowflake;

  beforeEach(async () => {
    secrets.reset();
    fake = await FakeSnowflake.start();
  });

  afterEach(async () => {
    await fake.close();
  });

  it('reads {privateKey, passphrase} from Secrets Manager through Powertools getSecret and logs in with it', async () => {
    // Prepare
    const secretId = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:claims-cdc/test/snowflake-ok';
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: JSON.stringify({ privateKey: PRIVATE_KEY_PEM, passphrase: PASSPHRASE }) });
    const warehouse = new SnowflakeWarehouse(base(fake, { kind: 'secrets-manager', secretId }));
    // Act
    await warehouse.query('SELECT 1');
    await warehouse.close();
    // Assess
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(decodeJwt((fake.logins[0] as RecordedLogin).token, PUBLIC_KEY).signedByKey).toBe(true);
  });

  it('rejects a secret of the wrong shape naming the field, never the value', async () => {
    // Prepare
    const secretId = 'claims-cdc/test/snowflake-bad-shape';
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: JSON.stringify({ private_key: PRIVATE_KEY_PEM, passphrase: PASSPHRASE }) });
    // Act
    const failure = await loadSnowflakeKeyPair({ kind: 'secrets-manager', secretId }).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as Error).message).toContain('problem with: privateKey');
    expect((failure as Error).message).not.toContain(PASSPHRASE);
  });

  it('a secret whose passphrase does not open the key fails before any login', async () => {
    // Prepare
    const secretId = 'claims-cdc/test/snowflake-wrong-passphrase';
    secrets.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: JSON.stringify({ privateKey: PRIVATE_KEY_PEM, passphrase: 'not it' }) });
    const warehouse = new SnowflakeWarehouse(base(fake, { kind: 'secrets-manager', secretId }));
    // Act
    const failure = await warehouse.query('SELECT 1').catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as Error).message).toMatch(/cannot be read: wrong or missing passphrase/);
    expect((failure as Error).message).not.toContain('not it');
    expect(fake.logins).toHaveLength(0);
  });

  it('reads the key from a file with the passphrase given separately', async () => {
    // Act
    const keyPair = await loadSnowflakeKeyPair(FILE_KEY);
    // Assess
    expect(keyPair).toEqual({ privateKey: PRIVATE_KEY_PEM, passphrase: PASSPHRASE });
  });

  it('a missing key file is a ConfigurationError naming the path', async () => {
    // Act
    const failure = await loadSnowflakeKeyPair({ kind: 'file', path: join(keyDir, 'absent.p8') }).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as Error).message).toBe(`cannot read Snowflake private key file ${join(keyDir, 'absent.p8')} (SNOWFLAKE_PRIVATE_KEY_PATH): ENOENT`);
  });
});
