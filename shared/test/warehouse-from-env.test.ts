import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Claim } from '../src/domain/claim';
import { ConfigurationError } from '../src/domain/errors';
import { DEFAULT_DUCKDB_PATH, LazyWarehouse, warehouseConfigFromEnv, warehouseFromEnv } from '../src/warehouse/from-env';
import { TABLES } from '../src/warehouse/tables';
import { FakeSnowflake } from '../test-support/fake-snowflake';
import { claims, row } from '../test-support/factories';

process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION = 'true';

const SNOWFLAKE = {
  WAREHOUSE: 'snowflake',
  SNOWFLAKE_ACCOUNT: 'acme-claims',
  SNOWFLAKE_USER: 'claims_cdc_svc',
  SNOWFLAKE_DATABASE: 'CLAIMS_CDC',
  SNOWFLAKE_SCHEMA: 'CDC',
  SNOWFLAKE_WAREHOUSE: 'CLAIMS_CDC_WH',
  SNOWFLAKE_ROLE: 'CLAIMS_CDC_ROLE',
};
const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:claims-cdc/dev/snowflake';

describe.each([
  { name: 'an unknown warehouse', env: { WAREHOUSE: 'postgres' }, message: 'WAREHOUSE must be duckdb or snowflake, not "postgres"' },
  { name: 'no WAREHOUSE on Lambda', env: { AWS_LAMBDA_FUNCTION_NAME: 'merge' }, message: 'missing environment variable: WAREHOUSE (duckdb or snowflake)' },
  {
    name: 'snowflake without identifiers',
    env: { WAREHOUSE: 'snowflake', SNOWFLAKE_ACCOUNT: 'acme', SNOWFLAKE_SECRET_ARN: ARN },
    message: 'WAREHOUSE=snowflake needs environment variables: SNOWFLAKE_USER, SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA, SNOWFLAKE_WAREHOUSE, SNOWFLAKE_ROLE',
  },
  {
    name: 'snowflake deployed without an account (packaged with no SNOWFLAKE_ACCOUNT: the variable is empty)',
    env: { ...SNOWFLAKE, SNOWFLAKE_ACCOUNT: '', SNOWFLAKE_SECRET_ARN: ARN },
    message: 'WAREHOUSE=snowflake needs environment variable: SNOWFLAKE_ACCOUNT (deployed: the snowflakeAccount parameter, which serverless-compose.yml fills from SNOWFLAKE_ACCOUNT at deploy time)',
  },
  { name: 'snowflake without a key source', env: SNOWFLAKE, message: 'missing environment variable: SNOWFLAKE_SECRET_ARN (Secrets Manager) or SNOWFLAKE_PRIVATE_KEY_PATH (local key file)' },
  {
    name: 'snowflake with a key file on Lambda',
    env: { ...SNOWFLAKE, SNOWFLAKE_PRIVATE_KEY_PATH: '/var/task/key.p8', AWS_LAMBDA_FUNCTION_NAME: 'load' },
    message: 'missing environment variable: SNOWFLAKE_SECRET_ARN (on Lambda the Snowflake key comes from Secrets Manager)',
  },
  {
    name: 'snowflake with both key sources',
    env: { ...SNOWFLAKE, SNOWFLAKE_PRIVATE_KEY_PATH: 'key.p8', SNOWFLAKE_SECRET_ARN: ARN },
    message: 'set one of SNOWFLAKE_SECRET_ARN (Secrets Manager) or SNOWFLAKE_PRIVATE_KEY_PATH (local file), not both',
  },
])('warehouse config: $name', ({ env, message }) => {
  it('fails fast with a ConfigurationError naming the problem', () => {
    // Act
    const read = () => warehouseConfigFromEnv(env);
    // Assess
    expect(read).toThrow(ConfigurationError);
    expect(read).toThrow(message);
  });
});

describe('warehouse config from a valid environment', () => {
  it('defaults to DuckDB at the embedded path outside Lambda', () => {
    expect(warehouseConfigFromEnv({})).toEqual({ kind: 'duckdb', path: DEFAULT_DUCKDB_PATH });
    expect(warehouseConfigFromEnv({ WAREHOUSE: 'duckdb', DUCKDB_PATH: ':memory:' })).toEqual({ kind: 'duckdb', path: ':memory:' });
  });

  it('reads Snowflake identifiers and the Secrets Manager key source', () => {
    expect(warehouseConfigFromEnv({ ...SNOWFLAKE, SNOWFLAKE_SECRET_ARN: ARN, AWS_LAMBDA_FUNCTION_NAME: 'merge' })).toEqual({
      kind: 'snowflake',
      account: 'acme-claims',
      username: 'claims_cdc_svc',
      database: 'CLAIMS_CDC',
      schema: 'CDC',
      warehouse: 'CLAIMS_CDC_WH',
      role: 'CLAIMS_CDC_ROLE',
      keySource: { kind: 'secrets-manager', secretId: ARN },
    });
  });

  it('reads a local key file and its passphrase', () => {
    expect(warehouseConfigFromEnv({ ...SNOWFLAKE, SNOWFLAKE_PRIVATE_KEY_PATH: 'k.p8', SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pw' })).toMatchObject({
      keySource: { kind: 'file', path: 'k.p8', passphrase: 'pw' },
    });
  });
});

describe('LazyWarehouse', () => {
  // A warehouse of claims or a private key file must not outlive its test in the shared temp dir.
  const made: string[] = [];
  const scratchDir = (prefix: string): string => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    made.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('opens DuckDB on first use, creating its directory and tables; one instance serves stage, merge and query', async () => {
    // Prepare
    const dir = scratchDir('claims-cdc-lazy-');
    const path = join(dir, 'nested', 'warehouse.duckdb');
    const warehouse = new LazyWarehouse(warehouseConfigFromEnv({ WAREHOUSE: 'duckdb', DUCKDB_PATH: path }));
    const existedBefore = existsSync(path);
    const [claim] = claims(1, 5) as [Claim];
    // Act
    const staged = await warehouse.stage([row({ eventName: 'INSERT', claim, micros: 1_732_000_000_000_000, eventId: 'lazy-1' })]);
    const merged = await warehouse.merge();
    const rows = await warehouse.query(`SELECT claimId FROM ${TABLES.destination}`);
    await warehouse.close();
    // Assess
    expect(existedBefore).toBe(false);
    expect(staged).toEqual({ received: 1, staged: 1 });
    expect(merged.inserted).toBe(1);
    expect(rows).toEqual([{ claimId: claim.claim_id }]);
  });

  it('warehouseFromEnv is one process-wide instance (load and merge handlers share it), constructed without touching the warehouse', () => {
    expect(warehouseFromEnv()).toBe(warehouseFromEnv());
  });

  it('reaches Snowflake through SNOWFLAKE_ACCESS_URL only when first used', async () => {
    // Prepare
    const fake = await FakeSnowflake.start();
    const keyPath = join(scratchDir('claims-cdc-key-'), 'rsa_key.p8');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    writeFileSync(keyPath, privateKey);
    const warehouse = new LazyWarehouse(warehouseConfigFromEnv({ ...SNOWFLAKE, SNOWFLAKE_ACCESS_URL: fake.url, SNOWFLAKE_PRIVATE_KEY_PATH: keyPath, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: 'pw' }));
    // Act
    const before = fake.logins.length;
    await warehouse.query('SELECT 1');
    await warehouse.close();
    await fake.close();
    // Assess
    expect(before).toBe(0);
    expect(fake.logins.map((l) => l.params.roleName)).toEqual(['CLAIMS_CDC_ROLE']);
  });
});
