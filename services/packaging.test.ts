/**
 * Packages the four services the way a deployer does (`osls-compose package`: offline, no AWS credentials) and
 * asserts on what would be deployed: the CloudFormation templates osls generated and the function zips.
 *
 * Every expectation here reads the generated template or, for services resolved alone with other parameters, the
 * configuration osls resolved (see `resolveAlone`), so each one fails when its serverless.yml (or
 * serverless.common.yml) regresses. Speed is not asserted (see `npm run bench`); packaging takes under a minute alone,
 * most of it installing and zipping snowflake-sdk for load and merge.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  allImports,
  asArray,
  type CfnResource,
  type CfnTemplate,
  type CfnValue,
  exportNames,
  fakeDeployValue,
  importedName,
  type IamStatement,
  prop,
  referencedId,
  resourcesOfType,
  roleStatements,
  subTemplate,
} from './test-support/cloudformation';
import { type AlarmInput, alarmInput, alarmsOf, dashboardWidgets } from './test-support/alarms';
import { type CommandRun, offlineEnv, type PackagedFunction, type PackagedService, type PackageLoad, readPackagedService, REPO_ROOT, requireEveryPackage, run } from './test-support/packaging';
import { extractZip } from './test-support/zip';

const SERVICES = ['ingest', 'transform', 'load', 'merge'] as const;
type ServiceName = (typeof SERVICES)[number];

const STAGE = 'dev';
/** What the deployer's environment holds; serverless-compose.yml passes it to load and merge. */
const SNOWFLAKE_ACCOUNT = 'pkgtest-account';

/** The functions each service must deploy, and those that talk to Snowflake. */
const EXPECTED: Record<ServiceName, { readonly functions: readonly string[]; readonly warehouse: readonly string[] }> = {
  ingest: { functions: ['api', 'generate'], warehouse: [] },
  transform: { functions: ['transform'], warehouse: [] },
  load: { functions: ['load', 'backfill'], warehouse: ['load'] },
  merge: { functions: ['merge', 'reconcile'], warehouse: ['merge', 'reconcile'] },
};

/** The only actions with no resource-level permissions that a function role may grant on '*'. */
const WILDCARD_RESOURCE_ACTIONS = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);
const LAMBDA_UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024;
const FOURTEEN_DAYS = 14 * 24 * 3600;

let compose: CommandRun;
const packaged = {} as Record<ServiceName, PackagedService>;
/** The services resolved alone (`resolveServicesAlone`), started beside the compose run and awaited by their tests. */
let resolvingAlone: Promise<ResolvedAlone>;
const scratch = mkdtempSync(join(tmpdir(), 'claims-cdc-artifacts-'));
/**
 * The temporary directory of every osls run here (its TMPDIR). serverless-esbuild (1.57) stages each function's zip in
 * a directory under os.tmpdir() and never removes it (its release is a non-recursive remove of a full directory, and
 * the error is swallowed): about 200 MB of bundles and snowflake-sdk copies per run. Inside the scratch directory,
 * afterAll removes them with it.
 */
const toolTmp = join(scratch, 'tmp');
mkdirSync(toolTmp);

const serviceDir = (service: ServiceName): string => join(REPO_ROOT, 'services', service);

beforeAll(async () => {
  // Prepare: no template from an earlier run may stand in for this one.
  for (const service of SERVICES) rmSync(join(serviceDir(service), '.serverless'), { recursive: true, force: true });

  // Act: the runs that only resolve go beside the compose run (`osls print` writes nothing into a service folder), in
  // the time it waits on npm and the disk. Their failure is kept for their own tests (the catch only marks it handled).
  resolvingAlone = resolveServicesAlone();
  resolvingAlone.catch(() => undefined);
  compose = await run(join(REPO_ROOT, 'node_modules', '.bin', 'osls-compose'), ['package', '--stage', STAGE, '--verbose'], {
    cwd: REPO_ROOT,
    env: offlineEnv({ SNOWFLAKE_ACCOUNT, TMPDIR: toolTmp }),
  });
  if (compose.exitCode !== 0) throw new Error(`osls-compose package failed (exit ${compose.exitCode}):\n${compose.output.slice(-8000)}`);
  // Nothing else here writes to `<service>/.serverless`, so the zips are read where the compose run left them.
  for (const service of SERVICES) packaged[service] = readPackagedService(serviceDir(service));
}, 15 * 60_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------- helpers

const template = (service: ServiceName): CfnTemplate => packaged[service].template;

const resource = (service: ServiceName, logicalId: string | undefined): CfnResource => {
  const found = logicalId === undefined ? undefined : template(service).Resources[logicalId];
  if (!found) throw new Error(`${service}: no resource ${String(logicalId)}`);
  return found;
};

const fn = (service: ServiceName, key: string): PackagedFunction => {
  const found = packaged[service].functions.find((f) => f.key === key);
  if (!found) throw new Error(`${service}: no function ${key}`);
  return found;
};

const environmentOf = (f: PackagedFunction): Record<string, CfnValue> =>
  ((f.resource.Properties?.Environment as { Variables?: Record<string, CfnValue> } | undefined)?.Variables ?? {});

const eventSourceMappings = (service: ServiceName): CfnResource[] => resourcesOfType(template(service), 'AWS::Lambda::EventSourceMapping').map(([, r]) => r);

const only = <T>(items: readonly T[], what: string): T => {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0] as T;
};

const queueNamed = (service: ServiceName, logicalId: string | undefined): CfnResource => {
  const queue = resource(service, logicalId);
  expect(queue.Type).toBe('AWS::SQS::Queue');
  return queue;
};

const actionsOf = (statement: IamStatement): string[] => asArray(statement.Action);

/** Statements of the function's own role. */
const statementsOf = (service: ServiceName, f: PackagedFunction): IamStatement[] => roleStatements(resource(service, referencedId(f.resource.Properties?.Role)));

/** The resources a role grants `action` on (intrinsics kept as written). */
const resourcesGranted = (service: ServiceName, f: PackagedFunction, action: string): CfnValue[] =>
  statementsOf(service, f)
    .filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action))
    .flatMap((s) => asArray(s.Resource as CfnValue | CfnValue[]));

/** Bare module names a bundle loads with `require("x")` or `import("x")`: esbuild leaves those for everything external. */
const bareImports = (bundle: string): string[] => {
  const names = new Set<string>();
  for (const match of bundle.matchAll(/\b(?:require|import)\(\s*["']([^"'./][^"']*)["']\s*\)/g)) {
    const specifier = match[1] as string;
    if (specifier.startsWith('node:') || builtinModules.includes(specifier)) continue;
    names.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] as string));
  }
  return [...names].sort();
};

/** The modules serverless.common.yml marks external *and installed* for a service (its `custom.esbuild` variant). */
const shippedExternals = (service: ServiceName): string[] => {
  const common = yaml.load(readFileSync(join(REPO_ROOT, 'serverless.common.yml'), 'utf8')) as { custom: Record<string, { external?: string[] }> };
  const variant = /custom\.(esbuild\w*)\}/.exec(readFileSync(join(serviceDir(service), 'serverless.yml'), 'utf8'))?.[1];
  const settings = variant === undefined ? undefined : common.custom[variant];
  if (!settings) throw new Error(`${service}: serverless.yml does not use a custom.esbuild* variant of serverless.common.yml`);
  return settings.external ?? [];
};

/** A function's zip, extracted once into the scratch directory, with its bundle's text. */
const unpacked = (() => {
  const cache = new Map<string, { root: string; file: string; exportName: string; names: string[]; bundle: string; unzippedBytes: number; modules: string }>();
  return (f: PackagedFunction) => {
    const known = cache.get(f.name);
    if (known) return known;
    const root = join(scratch, f.name);
    const entries = extractZip(f.artifact, root);
    const file = f.handler.slice(0, f.handler.lastIndexOf('.'));
    const exportName = f.handler.slice(f.handler.lastIndexOf('.') + 1);
    const result = {
      root,
      file,
      exportName,
      names: entries.map((entry) => entry.name),
      bundle: readFileSync(join(root, `${file}.js`), 'utf8'),
      unzippedBytes: entries.reduce((total, entry) => total + entry.uncompressedSize, 0),
      /** The shipped node_modules tree's identity: every file's path and size (two zips of one install share it). */
      modules: createHash('sha256')
        .update(entries.filter((entry) => entry.name.startsWith('node_modules/')).map((entry) => `${entry.name}:${entry.uncompressedSize}`).sort().join('\n'))
        .digest('hex'),
    };
    cache.set(f.name, result);
    return result;
  };
})();

/** What `requireEveryPackage` found for a shipped node_modules tree (by `modules`): each tree is loaded once. */
const loadsOfModules = new Map<string, { shipped: Record<string, PackageLoad>; published: Record<string, PackageLoad> }>();

const quarantineQueueName = `claims-cdc-${STAGE}-quarantine`;

// ---------------------------------------------------------------------------------------------- compose

describe('osls-compose package (offline, no AWS credentials)', () => {
  it('packages every service with no warning from osls or esbuild', () => {
    // Assess
    expect(compose.output.split('\n').filter((line) => /warning|deprecat/i.test(line))).toEqual([]);
    for (const service of SERVICES) expect(packaged[service].functions.map((f) => f.key).sort()).toEqual([...EXPECTED[service].functions].sort());
  });

  it('deploys every service after the services whose exports it imports (serverless-compose.yml dependsOn)', () => {
    // Prepare
    const composeFile = yaml.load(readFileSync(join(REPO_ROOT, 'serverless-compose.yml'), 'utf8')) as { services: Record<string, { path: string; dependsOn?: string | string[] }> };
    const dependsOn = (service: string): string[] => asArray(composeFile.services[service]?.dependsOn);
    const upstream = (service: string, seen = new Set<string>()): Set<string> => {
      for (const dependency of dependsOn(service)) if (!seen.has(dependency)) upstream(dependency, seen.add(dependency));
      return seen;
    };
    const owner = new Map<string, ServiceName>();
    for (const service of SERVICES) for (const name of exportNames(template(service))) owner.set(name, service);

    // Assess
    expect(Object.keys(composeFile.services).sort()).toEqual([...SERVICES].sort());
    for (const service of SERVICES) {
      expect(composeFile.services[service]?.path).toBe(`services/${service}`);
      for (const name of allImports(template(service))) {
        const exporter = owner.get(name);
        expect({ service, imports: name, exportedBy: exporter }).toEqual({ service, imports: name, exportedBy: expect.any(String) });
        expect({ service, imports: name, deployedAfter: upstream(service).has(exporter as string) }).toEqual({ service, imports: name, deployedAfter: true });
      }
    }
    // The chain the README documents.
    expect(upstream('transform')).toEqual(new Set(['ingest', 'load']));
    expect(upstream('load')).toEqual(new Set(['ingest']));
  });

  it('names every export after its stage, and no two stacks export the same name', () => {
    // (osls adds one export of its own per stack, the deployment bucket: sls-<service>-<stage>-...)
    const all = SERVICES.flatMap((service) => exportNames(template(service))).filter((name) => !name.startsWith('sls-'));
    expect(all.length).toBeGreaterThan(0);
    expect(new Set(all).size).toBe(all.length);
    for (const name of all) expect(name).toMatch(new RegExp(`^claims-cdc-${STAGE}-`));
  });
});

// ---------------------------------------------------------------------------------------------- every service

describe.each(SERVICES)('%s service', (service) => {
  it('runs every function on nodejs22.x, arm64, with tracing, log retention and the shared Powertools environment', () => {
    for (const f of packaged[service].functions) {
      const properties = f.resource.Properties ?? {};
      expect({ fn: f.name, runtime: properties.Runtime, architectures: properties.Architectures, tracing: properties.TracingConfig }).toEqual({
        fn: f.name,
        runtime: 'nodejs22.x',
        architectures: ['arm64'],
        tracing: { Mode: 'Active' },
      });
      expect(environmentOf(f)).toMatchObject({
        POWERTOOLS_SERVICE_NAME: `claims-cdc-${service}`,
        POWERTOOLS_METRICS_NAMESPACE: 'claims-cdc',
        POWERTOOLS_LOG_LEVEL: expect.any(String),
        POWERTOOLS_LOGGER_LOG_EVENT: 'false',
        AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      });
      const logGroup = resource(service, asArray(f.resource.DependsOn).find((id) => id.endsWith('LogGroup')));
      expect(prop(logGroup, 'RetentionInDays')).toEqual(expect.any(Number));
    }
  });

  it('gives every function a role of its own (no shared, framework-generated role)', () => {
    const roles = packaged[service].functions.map((f) => referencedId(f.resource.Properties?.Role));
    for (const role of roles) expect(resource(service, role).Type).toBe('AWS::IAM::Role');
    expect(new Set(roles).size).toBe(roles.length);
    expect(template(service).Resources.IamRoleLambdaExecution).toBeUndefined();
  });

  it('grants no wildcard resource except for X-Ray, and no wildcard action', () => {
    const statements = resourcesOfType(template(service), 'AWS::IAM::Role').flatMap(([, role]) => roleStatements(role));
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      for (const action of actionsOf(statement)) expect(action).not.toContain('*');
      // A Ref, GetAtt or import names one resource; a literal or Fn::Sub string must not contain a wildcard.
      const wildcard = asArray(statement.Resource as CfnValue | CfnValue[]).some((r) => (subTemplate(r) ?? '').includes('*'));
      if (wildcard) expect({ sid: statement.Sid, actions: actionsOf(statement).filter((a) => !WILDCARD_RESOURCE_ACTIONS.has(a)) }).toEqual({ sid: statement.Sid, actions: [] });
    }
  });

  it('encrypts every log group and every queue with KMS', () => {
    const logGroups = resourcesOfType(template(service), 'AWS::Logs::LogGroup');
    expect(logGroups.length).toBeGreaterThanOrEqual(packaged[service].functions.length);
    for (const [id, logGroup] of logGroups) expect({ id, kms: logGroup.Properties?.KmsKeyId }).toEqual({ id, kms: expect.anything() });
    for (const [id, queue] of resourcesOfType(template(service), 'AWS::SQS::Queue')) expect({ id, kms: queue.Properties?.KmsMasterKeyId }).toEqual({ id, kms: expect.anything() });
  });

  it('puts nothing secret in a function environment', () => {
    for (const f of packaged[service].functions) {
      for (const [name, value] of Object.entries(environmentOf(f))) {
        expect(name).not.toMatch(/PRIVATE_KEY|PASSPHRASE|PASSWORD|TOKEN|^SNOWFLAKE_SECRET$|CREDENTIAL/);
        expect(JSON.stringify(value)).not.toMatch(/-----BEGIN|AKIA[0-9A-Z]{12}/);
      }
    }
  });

  it('ships zips whose handler, and every external module it uses, loads from the zip alone', () => {
    for (const f of packaged[service].functions) {
      // Prepare
      const artifact = unpacked(f);
      const externals = bareImports(artifact.bundle).filter((name) => shippedExternals(service).includes(name));
      const env = Object.fromEntries(Object.entries(environmentOf(f)).map(([name, value]) => [name, fakeDeployValue(value)]));
      // Load the handler as Lambda would (its environment, cold start only), then each shipped external the
      // bundle imports, from the unzipped artifact only: a missing module fails here, not at the first cold start.
      // Deployed, tracing is on (provider.tracing.lambda): the X-Ray SDK must stay in its automatic mode, which
      // shared/src/observability/xray-mode.ts turns off (with AWS_XRAY_MANUAL_MODE) only outside Lambda.
      const script = [
        "const path = require('node:path');",
        'const [root, file, exportName, modules] = process.argv.slice(1);',
        'const handlerModule = require(path.join(root, file));',
        "if (typeof handlerModule[exportName] !== 'function') throw new Error(`${file} exports no function ${exportName}`);",
        'for (const name of JSON.parse(modules)) {',
        '  const resolved = require.resolve(name, { paths: [path.dirname(path.join(root, file))] });',
        '  if (!resolved.startsWith(root + path.sep)) throw new Error(`${name} resolved outside the artifact: ${resolved}`);',
        '  require(resolved);',
        '}',
        // AWS_XRAY_MANUAL_MODE as the handler left it (the X-Ray SDK is bundled, so its own mode cannot be asked here).
        'process.stdout.write(JSON.stringify({ xrayManualMode: process.env.AWS_XRAY_MANUAL_MODE ?? null }));',
      ].join('\n');

      // Act
      const load = (): string =>
        execFileSync(process.execPath, ['-e', script, artifact.root, artifact.file, artifact.exportName, JSON.stringify(externals)], {
          cwd: artifact.root,
          env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_LAMBDA_FUNCTION_NAME: f.name, LAMBDA_TASK_ROOT: artifact.root, ...env },
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });

      // Assess
      expect({ fn: f.name, loaded: JSON.parse(load()) as unknown }).toEqual({ fn: f.name, loaded: { xrayManualMode: null } });
      expect(artifact.unzippedBytes).toBeLessThan(LAMBDA_UNZIPPED_LIMIT_BYTES);
      expect(artifact.names).toContain(`${artifact.file}.js.map`);
    }
  });

  it('ships snowflake-sdk installed next to the bundle of a warehouse function, not at all with the others, and never bundles it', () => {
    for (const f of packaged[service].functions) {
      const artifact = unpacked(f);
      // esbuild marks every bundled module with a `// ../../node_modules/<name>/...` comment.
      expect({ fn: f.name, bundlesSnowflakeSdk: artifact.bundle.includes('node_modules/snowflake-sdk/') }).toEqual({ fn: f.name, bundlesSnowflakeSdk: false });
      expect(artifact.names.filter((name) => name.startsWith('node_modules/@duckdb/'))).toEqual([]);
      if (EXPECTED[service].warehouse.includes(f.key)) {
        expect(bareImports(artifact.bundle)).toContain('snowflake-sdk');
        expect(artifact.names).toContain('node_modules/snowflake-sdk/package.json');
        // The driver the function runs is the one the tests ran against (serverless-esbuild installs it afresh).
        const versionOf = (packageJson: string): unknown => (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
        expect(versionOf(join(artifact.root, 'node_modules', 'snowflake-sdk', 'package.json'))).toBe(versionOf(join(REPO_ROOT, 'node_modules', 'snowflake-sdk', 'package.json')));
        // The native part Lambda's arm64 Linux loads.
        expect(artifact.names.some((name) => /^node_modules\/snowflake-sdk\/.*linux-arm64-gnu\.node$/.test(name))).toBe(true);
      } else {
        expect({ fn: f.name, imports: bareImports(artifact.bundle) }).not.toEqual({ fn: f.name, imports: expect.arrayContaining(['snowflake-sdk']) });
        expect({ fn: f.name, modules: artifact.names.filter((name) => name.startsWith('node_modules/')) }).toEqual({ fn: f.name, modules: [] });
      }
    }
  });
});

// The warehouse functions' zips: snowflake-sdk's installed tree, pruned by scripts/prune-lambda-modules.js.
describe.each(SERVICES.filter((service) => EXPECTED[service].warehouse.length > 0))('%s service, warehouse zips', (service) => {
  it('ships, in a warehouse zip, every package that loads as published: pruning the installed tree took nothing require needs', () => {
    const warehouseFunctions = packaged[service].functions.filter((fn) => EXPECTED[service].warehouse.includes(fn.key));
    expect(warehouseFunctions.map((fn) => fn.key).sort()).toEqual([...EXPECTED[service].warehouse].sort());
    for (const f of warehouseFunctions) {
      // Prepare: the zip's top-level packages, loaded from the zip, and the same names as the repository installed
      // them (scripts/prune-lambda-modules.js never ran there).
      const artifact = unpacked(f);
      const loads = loadsOfModules.get(artifact.modules) ?? { shipped: requireEveryPackage(artifact.root), published: requireEveryPackage(artifact.root, REPO_ROOT) };
      loadsOfModules.set(artifact.modules, loads);
      const { shipped, published } = loads;

      // Act: every package of the same version that loads in the repository must load from the zip.
      const compared = Object.keys(shipped).filter((name) => shipped[name]?.version !== null && shipped[name]?.version === published[name]?.version);
      const lost = compared.filter((name) => published[name]?.loads === true && shipped[name]?.loads !== true);

      // Assess: nothing that loads was lost, and most of the tree was compared. (The build installs snowflake-sdk's
      // tree without a lockfile, so a dependency released since the repository's lockfile differs and is skipped.)
      expect({ fn: f.name, lost }).toEqual({ fn: f.name, lost: [] });
      expect(compared.length).toBeGreaterThan(0.5 * Object.keys(shipped).length);
      expect(compared).toContain('snowflake-sdk');
      // What the pruning removes is gone: no type declarations or source maps of dependencies, no ESM build of the SDK.
      expect(artifact.names.filter((name) => name.startsWith('node_modules/') && /\.(d\.[cm]?ts|map)$/.test(name))).toEqual([]);
      expect(artifact.names.filter((name) => /^node_modules\/@smithy\/[^/]+\/dist-es\//.test(name))).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------- ingest

describe('ingest service', () => {
  const table = (): CfnResource => only(resourcesOfType(template('ingest'), 'AWS::DynamoDB::Table'), 'table')[1];

  it('keeps InsuranceClaims on demand, KMS-encrypted with the pipeline key, with point-in-time recovery, retained', () => {
    const t = table();
    expect(t.Properties).toMatchObject({
      TableName: 'InsuranceClaims',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'claim_id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'claim_id', AttributeType: 'S' }],
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const key = resource('ingest', referencedId((prop(t, 'SSESpecification') as Record<string, CfnValue>).KMSMasterKeyId));
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(t.DeletionPolicy).toBe('Retain');
  });

  it('streams every change to a KMS-encrypted Kinesis stream with microsecond creation times', () => {
    const destination = prop(table(), 'KinesisStreamSpecification') as Record<string, CfnValue>;
    expect(destination.ApproximateCreationDateTimePrecision).toBe('MICROSECOND');
    const stream = resource('ingest', referencedId(destination.StreamArn));
    expect(stream.Type).toBe('AWS::Kinesis::Stream');
    expect(stream.Properties).toMatchObject({ ShardCount: 1, StreamEncryption: { EncryptionType: 'KMS', KeyId: expect.any(String) } });
  });

  it('authorizes every HTTP route with IAM', () => {
    const routes = resourcesOfType(template('ingest'), 'AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties ?? {});
    expect(routes.map((route) => route.RouteKey).sort()).toEqual(['DELETE /claims/{claimId}', 'PATCH /claims/{claimId}', 'POST /claims/samples']);
    for (const route of routes) expect({ route: route.RouteKey, auth: route.AuthorizationType }).toEqual({ route: route.RouteKey, auth: 'AWS_IAM' });
  });

  it('keeps the generator schedule disabled unless asked', () => {
    const rule = only(resourcesOfType(template('ingest'), 'AWS::Events::Rule'), 'schedule')[1];
    expect(rule.Properties).toMatchObject({ State: 'DISABLED', ScheduleExpression: expect.stringMatching(/^rate\(/) });
  });

  it('lets the API and the generator write only the claims table, using the key only through DynamoDB', () => {
    const [tableId] = only(resourcesOfType(template('ingest'), 'AWS::DynamoDB::Table'), 'table');
    for (const key of ['api', 'generate']) {
      const f = fn('ingest', key);
      expect(referencedId(environmentOf(f).CLAIMS_TABLE_NAME)).toBe(tableId);
      const statements = statementsOf('ingest', f);
      const dynamodb = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
      expect(dynamodb.length).toBeGreaterThan(0);
      for (const statement of dynamodb) expect(referencedId(statement.Resource)).toBe(tableId);
      for (const statement of statements.filter((s) => actionsOf(s).some((a) => a.startsWith('kms:')))) {
        expect(statement.Condition).toMatchObject({ StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'dynamodb.${AWS::Region}.amazonaws.com' } } });
      }
      expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('kinesis:') || a.startsWith('sqs:') || a.startsWith('secretsmanager:'))).toEqual([]);
    }
  });

  it('rotates the pipeline key and lets CloudWatch Logs use it only for claims-cdc log groups', () => {
    const [, key] = only(resourcesOfType(template('ingest'), 'AWS::KMS::Key'), 'KMS key');
    expect(prop(key, 'EnableKeyRotation')).toBe(true);
    const statements = (prop(key, 'KeyPolicy') as unknown as { Statement: IamStatement[] }).Statement;
    const logs = statements.filter((s) => JSON.stringify(s).includes('logs.${AWS::Region}.amazonaws.com'));
    expect(logs).toHaveLength(1);
    expect(JSON.stringify(logs[0]?.Condition)).toContain('claims-cdc-');
  });
});

// ---------------------------------------------------------------------------------------------- transform

describe('transform service', () => {
  const mapping = (): CfnResource => only(eventSourceMappings('transform'), 'event source mapping');

  it('reads the stream ingest exports in order, with partial batch failures, bisection and bounded retries', () => {
    const properties = mapping().Properties ?? {};
    expect(importedName(properties.EventSourceArn)).toBe(`claims-cdc-${STAGE}-claims-stream-arn`);
    expect(properties).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
    });
    expect(properties.MaximumRetryAttempts).toEqual(expect.any(Number));
    expect(properties.MaximumRetryAttempts as number).toBeGreaterThanOrEqual(0);
    expect(properties.MaximumRetryAttempts as number).toBeLessThanOrEqual(10);
    expect(properties.MaximumRecordAgeInSeconds).toEqual(expect.any(Number));
    expect(properties.MaximumRecordAgeInSeconds as number).toBeGreaterThanOrEqual(60);
    expect(properties.MaximumRecordAgeInSeconds as number).toBeLessThanOrEqual(86_400);
    expect(properties.BatchSize as number).toBeGreaterThan(0);
  });

  it('reports batches it gives up on to a KMS-encrypted queue of its own that its role may write', () => {
    const destination = ((mapping().Properties?.DestinationConfig as Record<string, Record<string, CfnValue>>).OnFailure ?? {}).Destination;
    const queueId = referencedId(destination);
    expect(queueNamed('transform', queueId).Properties?.KmsMasterKeyId).toBeDefined();
    expect(resourcesGranted('transform', fn('transform', 'transform'), 'sqs:SendMessage').map(referencedId)).toContain(queueId);
  });

  it('owns the quarantine queue under the conventional name load writes to, keeping messages 14 days', () => {
    const f = fn('transform', 'transform');
    const quarantine = queueNamed('transform', referencedId(environmentOf(f).QUARANTINE_QUEUE_URL));
    expect(quarantine.Properties).toMatchObject({ QueueName: quarantineQueueName, MessageRetentionPeriod: FOURTEEN_DAYS });
  });

  it('sends rows to the load queue load exports', () => {
    const f = fn('transform', 'transform');
    const loadQueueUrl = importedName(environmentOf(f).LOAD_QUEUE_URL);
    expect(exportNames(template('load'))).toContain(loadQueueUrl);
    expect(resourcesGranted('transform', f, 'sqs:SendMessage').map(importedName)).toContain(`claims-cdc-${STAGE}-load-queue-arn`);
  });
});

// ---------------------------------------------------------------------------------------------- load

describe('load service', () => {
  const mapping = (): CfnResource => only(eventSourceMappings('load'), 'event source mapping');
  const loadQueue = (): CfnResource => queueNamed('load', referencedId(mapping().Properties?.EventSourceArn));

  it('takes large batches from its queue, waiting for them to fill, and reports failures per message', () => {
    expect(mapping().Properties).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(mapping().Properties?.BatchSize as number).toBeGreaterThanOrEqual(100);
    expect(mapping().Properties?.BatchSize as number).toBeLessThanOrEqual(10_000);
    expect(mapping().Properties?.MaximumBatchingWindowInSeconds as number).toBeGreaterThanOrEqual(1);
  });

  it('redrives to a KMS-encrypted dead-letter queue after at least 5 receives, which keeps messages longer', () => {
    const redrive = prop(loadQueue(), 'RedrivePolicy') as Record<string, CfnValue>;
    expect(redrive.maxReceiveCount as number).toBeGreaterThanOrEqual(5);
    const dlq = queueNamed('load', referencedId(redrive.deadLetterTargetArn));
    expect(dlq.Properties?.KmsMasterKeyId).toBeDefined();
    expect(prop(dlq, 'MessageRetentionPeriod') as number).toBeGreaterThan(prop(loadQueue(), 'MessageRetentionPeriod') as number);
  });

  it('hides a message for at least 6 x the function timeout plus the batching window', () => {
    const timeout = prop(fn('load', 'load').resource, 'Timeout') as number;
    const window = (mapping().Properties?.MaximumBatchingWindowInSeconds as number | undefined) ?? 0;
    expect(prop(loadQueue(), 'VisibilityTimeout') as number).toBeGreaterThanOrEqual(6 * timeout + window);
  });

  it('quarantines into the queue transform creates: the same name in its environment, its role and transform', () => {
    const f = fn('load', 'load');
    expect(subTemplate(environmentOf(f).QUARANTINE_QUEUE_URL)).toMatch(new RegExp(`/\\$\\{AWS::AccountId\\}/${quarantineQueueName}$`));
    expect(resourcesGranted('load', f, 'sqs:SendMessage').map(subTemplate)).toEqual([`arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${quarantineQueueName}`]);
    const transformQueues = resourcesOfType(template('transform'), 'AWS::SQS::Queue').map(([, q]) => q.Properties?.QueueName);
    expect(transformQueues).toContain(quarantineQueueName);
  });

  it('consumes only its own queue', () => {
    const f = fn('load', 'load');
    expect(resourcesGranted('load', f, 'sqs:ReceiveMessage').map(referencedId)).toEqual([referencedId(mapping().Properties?.EventSourceArn)]);
    expect(resourcesGranted('load', f, 'sqs:DeleteMessage').map(referencedId)).toEqual([referencedId(mapping().Properties?.EventSourceArn)]);
  });
});

// ---------------------------------------------------------------------------------------------- warehouse functions

describe.each([
  ['load', 'load'],
  ['merge', 'merge'],
  ['merge', 'reconcile'],
] as const)('%s service, Snowflake connection', (service, key) => {
  it('connects to the account from the deployer, as the user, role, warehouse, database and schema 01-setup.sql creates', () => {
    // Prepare: the names the Snowflake setup worksheet creates (its `SET <name>_name = '...'` block).
    const setup = readFileSync(join(REPO_ROOT, 'sql', 'snowflake', '01-setup.sql'), 'utf8');
    const named = (variable: string): string => {
      const value = new RegExp(`^SET ${variable} = '([^']+)';`, 'm').exec(setup)?.[1];
      if (value === undefined) throw new Error(`sql/snowflake/01-setup.sql sets no ${variable}`);
      return value;
    };

    // Assess
    expect(environmentOf(fn(service, key))).toMatchObject({
      WAREHOUSE: 'snowflake',
      SNOWFLAKE_ACCOUNT,
      SNOWFLAKE_USER: named('user_name'),
      SNOWFLAKE_ROLE: named('role_name'),
      SNOWFLAKE_WAREHOUSE: named('warehouse_name'),
      SNOWFLAKE_DATABASE: named('database_name'),
      SNOWFLAKE_SCHEMA: named('schema_name'),
      SNOWFLAKE_DISABLE_PLATFORM_DETECTION: 'true',
    });
  });

  it('reads its key pair from the one secret its role may read', () => {
    const f = fn(service, key);
    const env = environmentOf(f);
    const secret = subTemplate(env.SNOWFLAKE_SECRET_ARN);
    expect(secret).toBe(`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:claims-cdc/${STAGE}/snowflake`);
    expect(resourcesGranted(service, f, 'secretsmanager:GetSecretValue').map(subTemplate)).toEqual([`${secret}-??????`]);
  });
});

// ---------------------------------------------------------------------------------------------- merge

/** The schedule rule whose target is the function. */
const scheduleOf = (service: ServiceName, f: PackagedFunction): CfnResource =>
  only(
    resourcesOfType(template(service), 'AWS::Events::Rule')
      .map(([, r]) => r)
      .filter((r) => JSON.stringify(r.Properties?.Targets ?? []).includes(`"${f.logicalId}"`)),
    `schedule of ${f.key}`,
  );

/** The function's asynchronous invoke configuration. */
const invokeConfigOf = (service: ServiceName, f: PackagedFunction): CfnResource =>
  only(
    resourcesOfType(template(service), 'AWS::Lambda::EventInvokeConfig')
      .map(([, r]) => r)
      .filter((r) => referencedId(r.Properties?.FunctionName as CfnValue) === f.logicalId),
    `invoke config of ${f.key}`,
  );

describe('merge service', () => {
  it('runs one merge at a time on a one-minute schedule, dropping ticks rather than queueing them', () => {
    const f = fn('merge', 'merge');
    expect(prop(f.resource, 'ReservedConcurrentExecutions')).toBe(1);
    const rule = scheduleOf('merge', f);
    expect(rule.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
    const invokeConfig = invokeConfigOf('merge', f);
    expect(invokeConfig.Properties).toMatchObject({ MaximumRetryAttempts: 0 });
    expect(prop(f.resource, 'Timeout') as number).toBeLessThanOrEqual(900);
  });
});

// ---------------------------------------------------------------------------------------------- services resolved alone

/** What `osls print` resolves for a service: its serverless.yml with every variable, `${file()}` and `${param:}` filled in. */
interface ResolvedConfiguration {
  readonly provider: { readonly environment?: Record<string, CfnValue> };
  readonly functions: Record<string, { readonly environment?: Record<string, CfnValue> }>;
  /** The `resources:` section, which osls merges into the generated template as it stands. */
  readonly resources: CfnTemplate & { readonly Conditions?: Record<string, CfnValue> };
}

/**
 * `osls print` of one service on its own, with the given environment and `--param`s: its resolved configuration.
 *
 * What these runs check is variable resolution: parameters reaching what they set, a service resolved with no secret in
 * its environment. osls loads the plugins, resolves every variable and validates the configuration before any command
 * runs, in `print` as in `package`, and fails the same way on a variable it cannot resolve offline (an `${env:}` with no
 * default, an `${ssm:}`, an `${aws:}`). `print` leaves out only bundling, installing and zipping, which the compose run
 * already does for every service: a package of merge alone installed and zipped snowflake-sdk again, the longest part of
 * this file. That a resolved `resources:` entry or function environment is what lands in the template is what the
 * compose run shows: the tests above and below read these same alarms, condition, output and variables, with their
 * default values, from its generated templates.
 */
const resolveAlone = async (service: ServiceName, env: NodeJS.ProcessEnv, params: Record<string, string | number> = {}): Promise<ResolvedConfiguration> => {
  const args = ['print', '--stage', STAGE, '--format', 'json', ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`)];
  const result = await run(join(REPO_ROOT, 'node_modules', '.bin', 'osls'), args, { cwd: serviceDir(service), env });
  if (result.exitCode !== 0) throw new Error(`osls print ${service} failed (exit ${result.exitCode}):\n${result.output.slice(-4000)}`);
  return JSON.parse(result.stdout) as ResolvedConfiguration;
};

/** A function's environment as osls compiles it into the template: the provider's, overridden by the function's own. */
const resolvedEnvironment = (config: ResolvedConfiguration, key: string): Record<string, CfnValue> => {
  const f = config.functions[key];
  if (!f) throw new Error(`no function ${key} in the resolved configuration`);
  return { ...config.provider.environment, ...f.environment };
};

const ALARM_TOPIC = 'arn:aws:sns:us-east-1:123456789012:oncall';

/** merge resolved with no secret, transform and ingest with alarm parameters. */
interface ResolvedAlone {
  readonly withoutSecrets: ResolvedConfiguration;
  readonly transformWithParams: ResolvedConfiguration;
  readonly ingestWithParams: ResolvedConfiguration;
}

/** The three `osls print` runs; they may overlap one another and the compose run. */
const resolveServicesAlone = async (): Promise<ResolvedAlone> => {
  // Prepare: the environment of a CI job before it has any secret (no SNOWFLAKE_*, and offlineEnv drops AWS_*).
  const noSecrets = offlineEnv({ TMPDIR: toolTmp });
  for (const name of Object.keys(noSecrets)) if (name.startsWith('SNOWFLAKE_')) delete noSecrets[name];
  // Act
  const [withoutSecrets, transformWithParams, ingestWithParams] = await Promise.all([
    resolveAlone('merge', noSecrets),
    resolveAlone('transform', offlineEnv({ TMPDIR: toolTmp }), { alarmTransformIteratorAgeMs: 12345, alarmTransformErrorRatePercent: 7, alarmPeriodSeconds: 300, alarmEvaluationPeriods: 4 }),
    resolveAlone('ingest', offlineEnv({ TMPDIR: toolTmp }), { alarmTopicArn: ALARM_TOPIC }),
  ]);
  return { withoutSecrets, transformWithParams, ingestWithParams };
};

describe('services resolved alone: with no secrets, and with parameters', () => {
  let withoutSecrets: ResolvedConfiguration;
  let transformWithParams: ResolvedConfiguration;
  let ingestWithParams: ResolvedConfiguration;

  beforeAll(async () => {
    ({ withoutSecrets, transformWithParams, ingestWithParams } = await resolvingAlone);
  }, 5 * 60_000);

  it('resolves a Snowflake service alone with no SNOWFLAKE_* variable and no AWS credentials; the account is left empty', () => {
    // Prepare
    const warehouseFunctions = EXPECTED.merge.warehouse.map((key) => ({ key, environment: resolvedEnvironment(withoutSecrets, key) }));
    // Assess: the run succeeded (resolveAlone throws otherwise), and left the account empty in every warehouse function.
    expect(Object.keys(withoutSecrets.functions).sort()).toEqual([...EXPECTED.merge.functions].sort());
    for (const { key, environment } of warehouseFunctions) expect({ key, account: environment.SNOWFLAKE_ACCOUNT }).toEqual({ key, account: '' });
  });

  it('uses the given topic and thresholds when the parameters are passed (transform and ingest resolved alone)', () => {
    // Prepare
    const transform = alarmsOf(transformWithParams.resources);
    const ingest = ingestWithParams.resources;
    const props = (id: string) => transform[id]?.Properties ?? {};
    const errorRatePeriods = (props('TransformErrorRateAlarm').Metrics as Array<{ MetricStat?: { Period: CfnValue } }>).flatMap((m) => (m.MetricStat ? [Number(m.MetricStat.Period)] : []));
    // Assess
    expect([Number(props('TransformIteratorAgeAlarm').Threshold), Number(props('TransformIteratorAgeAlarm').Period), Number(props('TransformIteratorAgeAlarm').EvaluationPeriods)]).toEqual([12345, 300, 4]);
    expect([Number(props('TransformErrorRateAlarm').Threshold), Number(props('TransformErrorRateAlarm').EvaluationPeriods)]).toEqual([7, 4]);
    expect(errorRatePeriods).toEqual([300, 300]);
    expect([Number(props('QuarantineNotEmptyAlarm').Threshold), Number(props('QuarantineNotEmptyAlarm').EvaluationPeriods)]).toEqual([0, 1]);
    expect(ingest.Conditions?.CreateAlarmTopic).toEqual({ 'Fn::Equals': [ALARM_TOPIC, ''] });
    expect((ingest.Outputs?.AlarmTopicArn as { Value: CfnValue }).Value).toEqual({ 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ALARM_TOPIC] });
  });
});

// ---------------------------------------------------------------------------------------------- alarms and dashboard

describe('alarms and the pipeline dashboard', () => {
  const TOPIC_EXPORT = `claims-cdc-${STAGE}-alarm-topic-arn`;
  type Watched = { readonly fn: string } | { readonly queue: string } | { readonly service: string };
  interface ExpectedAlarm {
    readonly service: ServiceName;
    readonly id: string;
    /** A single metric, or the error-rate expression over the function's Errors and Invocations. */
    readonly watch: { readonly namespace: string; readonly metric: string; readonly stat: string; readonly of: Watched } | { readonly errorRateOf: string };
    readonly comparison: string;
    readonly threshold: number;
    /** The parameter that sets the threshold, its key under `alarms:` in serverless.common.yml; none: fixed. */
    readonly param?: { readonly name: string; readonly key: string };
    readonly evaluationPeriods: number;
    readonly missingData: 'notBreaching' | 'breaching' | 'ignore';
    /** The period, seconds, when not the shared alarmPeriodSeconds (60). */
    readonly period?: number;
  }
  const ALARMS: readonly ExpectedAlarm[] = [
    { service: 'transform', id: 'TransformIteratorAgeAlarm', watch: { namespace: 'AWS/Lambda', metric: 'IteratorAge', stat: 'Maximum', of: { fn: 'transform' } }, comparison: 'GreaterThanThreshold', threshold: 60000, param: { name: 'alarmTransformIteratorAgeMs', key: 'transformIteratorAgeMs' }, evaluationPeriods: 3, missingData: 'notBreaching' },
    { service: 'transform', id: 'TransformFailedBatchesAlarm', watch: { namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', stat: 'Maximum', of: { queue: `claims-cdc-${STAGE}-transform-failed-batches` } }, comparison: 'GreaterThanThreshold', threshold: 0, evaluationPeriods: 1, missingData: 'notBreaching' },
    { service: 'transform', id: 'QuarantineNotEmptyAlarm', watch: { namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', stat: 'Maximum', of: { queue: `claims-cdc-${STAGE}-quarantine` } }, comparison: 'GreaterThanThreshold', threshold: 0, evaluationPeriods: 1, missingData: 'notBreaching' },
    { service: 'transform', id: 'TransformErrorRateAlarm', watch: { errorRateOf: 'transform' }, comparison: 'GreaterThanThreshold', threshold: 5, param: { name: 'alarmTransformErrorRatePercent', key: 'transformErrorRatePercent' }, evaluationPeriods: 3, missingData: 'notBreaching' },
    { service: 'load', id: 'LoadDeadLetterQueueAlarm', watch: { namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', stat: 'Maximum', of: { queue: `claims-cdc-${STAGE}-load-dlq` } }, comparison: 'GreaterThanThreshold', threshold: 0, evaluationPeriods: 1, missingData: 'notBreaching' },
    { service: 'load', id: 'LoadErrorRateAlarm', watch: { errorRateOf: 'load' }, comparison: 'GreaterThanThreshold', threshold: 5, param: { name: 'alarmLoadErrorRatePercent', key: 'loadErrorRatePercent' }, evaluationPeriods: 3, missingData: 'notBreaching' },
    { service: 'merge', id: 'MergeErrorsAlarm', watch: { namespace: 'AWS/Lambda', metric: 'Errors', stat: 'Sum', of: { fn: 'merge' } }, comparison: 'GreaterThanOrEqualToThreshold', threshold: 1, param: { name: 'alarmMergeErrors', key: 'mergeErrors' }, evaluationPeriods: 1, missingData: 'notBreaching' },
    { service: 'merge', id: 'OldestUnmergedEventAgeAlarm', watch: { namespace: 'claims-cdc', metric: 'OldestUnmergedEventAge', stat: 'Maximum', of: { service: 'claims-cdc-merge' } }, comparison: 'GreaterThanThreshold', threshold: 600, param: { name: 'alarmOldestUnmergedEventAgeSeconds', key: 'oldestUnmergedEventAgeSeconds' }, evaluationPeriods: 3, missingData: 'breaching' },
    { service: 'merge', id: 'ReconcileDriftAlarm', watch: { namespace: 'claims-cdc', metric: 'ReconcileDrifted', stat: 'Maximum', of: { service: 'claims-cdc-merge' } }, comparison: 'GreaterThanThreshold', threshold: 0, evaluationPeriods: 1, missingData: 'ignore', period: 3600 },
    { service: 'merge', id: 'EndToEndFreshnessAlarm', watch: { namespace: 'claims-cdc', metric: 'EndToEndFreshnessP99', stat: 'Maximum', of: { service: 'claims-cdc-merge' } }, comparison: 'GreaterThanThreshold', threshold: 300000, param: { name: 'alarmEndToEndFreshnessP99Ms', key: 'endToEndFreshnessP99Ms' }, evaluationPeriods: 3, missingData: 'notBreaching' },
  ];
  /** Parameters shared by the alarms, with their defaults. */
  const SHARED_PARAMS = [
    { name: 'alarmPeriodSeconds', key: 'periodSeconds', value: 60 },
    { name: 'alarmEvaluationPeriods', key: 'evaluationPeriods', value: 3 },
  ];

  const common = () => yaml.load(readFileSync(join(REPO_ROOT, 'serverless.common.yml'), 'utf8')) as { alarms: Record<string, unknown> };

  /** The dimension value the template must hold for what an alarm watches. */
  const dimensionFor = (service: ServiceName, of: Watched): [string, CfnValue] => {
    if ('fn' in of) return ['FunctionName', { Ref: fn(service, of.fn).logicalId }];
    if ('service' in of) return ['service', of.service];
    const [queueId] = resourcesOfType(template(service), 'AWS::SQS::Queue').find(([, q]) => q.Properties?.QueueName === of.queue) ?? [];
    if (!queueId) throw new Error(`${service} owns no queue named ${of.queue}`);
    return ['QueueName', { 'Fn::GetAtt': [queueId, 'QueueName'] }];
  };

  it('gives each service exactly its alarms (ingest none)', () => {
    for (const service of SERVICES) {
      expect({ service, alarms: Object.keys(alarmsOf(template(service))).sort() }).toEqual({ service, alarms: ALARMS.filter((a) => a.service === service).map((a) => a.id).sort() });
    }
  });

  it.each(ALARMS.map((a) => [a.id, a] as const))('%s watches its metric, with its threshold, and notifies the alarm topic on ALARM and OK', (_id, expected) => {
    // Prepare
    const alarm = alarmsOf(template(expected.service))[expected.id];
    const p = alarm?.Properties ?? {};
    const w = expected.watch;
    const want: AlarmInput =
      'errorRateOf' in w
        ? {
            kind: 'math',
            expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
            inputs: {
              errors: { namespace: 'AWS/Lambda', metric: 'Errors', stat: 'Sum', dimensions: Object.fromEntries([dimensionFor(expected.service, { fn: w.errorRateOf })]) },
              invocations: { namespace: 'AWS/Lambda', metric: 'Invocations', stat: 'Sum', dimensions: Object.fromEntries([dimensionFor(expected.service, { fn: w.errorRateOf })]) },
            },
          }
        : { kind: 'metric', namespace: w.namespace, metric: w.metric, stat: w.stat, dimensions: Object.fromEntries([dimensionFor(expected.service, w.of)]) };
    // Act
    const input = alarmInput(alarm as CfnResource);
    // Assess
    expect(input).toEqual(want);
    expect({ comparison: p.ComparisonOperator, threshold: Number(p.Threshold), periods: Number(p.EvaluationPeriods), missing: p.TreatMissingData }).toEqual({
      comparison: expected.comparison,
      threshold: expected.threshold,
      periods: expected.evaluationPeriods,
      missing: expected.missingData,
    });
    const period = 'errorRateOf' in w ? (p.Metrics as Array<{ MetricStat?: { Period: number } }>)[0]?.MetricStat?.Period : p.Period;
    expect(Number(period)).toBe(expected.period ?? 60);
    expect(p.AlarmActions).toEqual([{ 'Fn::ImportValue': TOPIC_EXPORT }]);
    expect(p.OKActions).toEqual([{ 'Fn::ImportValue': TOPIC_EXPORT }]);
    expect(p.AlarmName).toMatch(new RegExp(`^claims-cdc-${STAGE}-`));
  });

  it('takes every threshold from a parameter of serverless.common.yml whose default is the packaged value, documented in docs/deploy.md', () => {
    // Prepare
    const alarms = common().alarms;
    const docs = readFileSync(join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
    const params = [...ALARMS.flatMap((a) => (a.param ? [{ ...a.param, value: a.threshold }] : [])), ...SHARED_PARAMS];
    // Assess
    expect(params).toHaveLength(8);
    for (const { name, key, value } of params) {
      expect({ key, declared: alarms[key] }).toEqual({ key, declared: `\${param:${name}, ${value}}` });
      expect({ name, documented: docs.includes(`\`${name}\``) }).toEqual({ name, documented: true });
    }
    expect(alarms.topicArnParam).toBe("${param:alarmTopicArn, ''}");
    expect(docs).toContain('`alarmTopicArn`');
  });

  it('creates the alarm topic in ingest unless alarmTopicArn names one, and exports whichever it is', () => {
    // Prepare
    const t = template('ingest');
    const output = t.Outputs?.AlarmTopicArn as { Value: CfnValue; Export: { Name: string } } | undefined;
    // Assess
    expect(t.Resources.AlarmTopic).toMatchObject({ Type: 'AWS::SNS::Topic', Condition: 'CreateAlarmTopic', Properties: { TopicName: `claims-cdc-${STAGE}-alarms` } });
    expect((t as unknown as { Conditions: Record<string, CfnValue> }).Conditions.CreateAlarmTopic).toEqual({ 'Fn::Equals': ['', ''] });
    expect(output?.Export.Name).toBe(TOPIC_EXPORT);
    expect(output?.Value).toEqual({ 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, ''] });
  });

  it('builds one dashboard for the whole pipeline, with a widget per stage on the metrics the pipeline publishes', () => {
    // Prepare
    const dashboards = SERVICES.flatMap((service) => resourcesOfType(template(service), 'AWS::CloudWatch::Dashboard').map(([, d]) => ({ service, d })));
    const ns = 'claims-cdc';
    // Act
    const [only] = dashboards;
    const widgets = dashboardWidgets(only?.d as CfnResource, 'eu-west-3');
    // Assess
    expect(dashboards.map(({ service, d }) => [service, d.Properties?.DashboardName])).toEqual([['merge', `claims-cdc-${STAGE}`]]);
    expect(widgets).toEqual([
      { title: 'Records in (stream)', stat: 'Sum', alarmLines: [], metrics: [{ namespace: 'AWS/Kinesis', metric: 'IncomingRecords', dimensions: { StreamName: `claims-cdc-${STAGE}-claim-changes` } }] },
      {
        title: 'Rows staged',
        stat: 'Sum',
        alarmLines: [],
        metrics: [
          { namespace: ns, metric: 'EventsStaged', dimensions: { service: 'claims-cdc-load' } },
          { namespace: ns, metric: 'DuplicateEvents', dimensions: { service: 'claims-cdc-load' } },
        ],
      },
      { title: 'Events merged', stat: 'Sum', alarmLines: [], metrics: [{ namespace: ns, metric: 'EventsMerged', dimensions: { service: 'claims-cdc-merge' } }] },
      {
        title: 'Quarantined',
        stat: 'Sum',
        alarmLines: [],
        metrics: [
          { namespace: ns, metric: 'RecordsQuarantined', dimensions: { service: 'claims-cdc-transform' } },
          { namespace: ns, metric: 'MessagesQuarantined', dimensions: { service: 'claims-cdc-load' } },
        ],
      },
      {
        title: 'Dead-letter and quarantine queue depths',
        stat: 'Maximum',
        alarmLines: [],
        metrics: ['load-dlq', 'transform-failed-batches', 'quarantine'].map((q) => ({ namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', dimensions: { QueueName: `claims-cdc-${STAGE}-${q}` } })),
      },
      { title: 'Transform iterator age (ms)', stat: 'Maximum', alarmLines: [60000], metrics: [{ namespace: 'AWS/Lambda', metric: 'IteratorAge', dimensions: { FunctionName: fn('transform', 'transform').name } }] },
      { title: 'Oldest unmerged event age (s)', stat: 'Maximum', alarmLines: [600], metrics: [{ namespace: ns, metric: 'OldestUnmergedEventAge', dimensions: { service: 'claims-cdc-merge' } }] },
      { title: 'End-to-end freshness p99 (ms)', stat: 'Maximum', alarmLines: [300000], metrics: [{ namespace: ns, metric: 'EndToEndFreshnessP99', dimensions: { service: 'claims-cdc-merge' } }] },
    ]);
  });

  it('names, in the dashboard, queues and a stream the other stacks really create, and metrics the services really publish', () => {
    // Prepare: every queue and stream name in any template, and the metric names in each service's handler code
    const queues = SERVICES.flatMap((service) => resourcesOfType(template(service), 'AWS::SQS::Queue').map(([, q]) => q.Properties?.QueueName));
    const streams = resourcesOfType(template('ingest'), 'AWS::Kinesis::Stream').map(([, s]) => s.Properties?.Name);
    const sourcesUnder = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sourcesUnder(join(dir, e.name)) : e.name.endsWith('.ts') ? [readFileSync(join(dir, e.name), 'utf8')] : []));
    const handlerSource = (service: string): string => sourcesUnder(join(serviceDir(service as ServiceName), 'src')).join('\n');
    // Act
    const widgets = dashboardWidgets(template('merge').Resources.PipelineDashboard as CfnResource, 'us-east-1');
    const used = widgets.flatMap((w) => w.metrics);
    // Assess
    for (const m of used) {
      if (m.dimensions.QueueName !== undefined) expect(queues).toContain(m.dimensions.QueueName);
      if (m.dimensions.StreamName !== undefined) expect(streams).toContain(m.dimensions.StreamName);
      if (m.dimensions.FunctionName !== undefined) expect(SERVICES.flatMap((s) => packaged[s].functions.map((f) => f.name))).toContain(m.dimensions.FunctionName);
      if (m.namespace === 'claims-cdc') {
        const service = (m.dimensions.service as string).replace(/^claims-cdc-/, '');
        expect({ metric: m.metric, service, published: handlerSource(service).includes(`addMetric('${m.metric}'`) }).toEqual({ metric: m.metric, service, published: true });
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------- reconcile

describe('merge service, reconcile function', () => {
  const reconcileFn = (): PackagedFunction => fn('merge', 'reconcile');

  it('runs once a day by default, one run at a time, not retried, within the Lambda limit', () => {
    // Prepare
    const f = reconcileFn();
    // Assess
    expect(scheduleOf('merge', f).Properties).toMatchObject({ ScheduleExpression: 'rate(1 day)', State: 'ENABLED' });
    expect(prop(f.resource, 'ReservedConcurrentExecutions')).toBe(1);
    expect(invokeConfigOf('merge', f).Properties).toMatchObject({ MaximumRetryAttempts: 0 });
    expect(prop(f.resource, 'Timeout')).toBe(900);
    expect(f.handler).toBe('src/handlers/reconcile.handler');
  });

  it('may read the claims table (Scan, GetItem) and send to the load queue, and nothing else of DynamoDB or SQS', () => {
    // Prepare
    const f = reconcileFn();
    const statements = statementsOf('merge', f);
    const granted = (prefix: string) => statements.flatMap((s) => actionsOf(s).filter((a) => a.startsWith(prefix))).sort();
    // Assess
    expect(granted('dynamodb:')).toEqual(['dynamodb:GetItem', 'dynamodb:Scan']);
    expect(granted('sqs:')).toEqual(['sqs:SendMessage']);
    expect(resourcesGranted('merge', f, 'dynamodb:Scan').map(importedName)).toEqual([`claims-cdc-${STAGE}-claims-table-arn`]);
    expect(resourcesGranted('merge', f, 'dynamodb:GetItem').map(importedName)).toEqual([`claims-cdc-${STAGE}-claims-table-arn`]);
    expect(resourcesGranted('merge', f, 'sqs:SendMessage').map(subTemplate)).toEqual([`arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:claims-cdc-${STAGE}-load`]);
    // The table and the load queue are encrypted with the pipeline key, used only through those services.
    const kms = statements.find((s) => actionsOf(s).includes('kms:GenerateDataKey'));
    expect(importedName(kms?.Resource as CfnValue)).toBe(`claims-cdc-${STAGE}-pipeline-key-arn`);
    expect(JSON.stringify(kms?.Condition)).toContain('dynamodb.${AWS::Region}.amazonaws.com');
    expect(JSON.stringify(kms?.Condition)).toContain('sqs.${AWS::Region}.amazonaws.com');
    // The merge function gained nothing from it.
    expect(statementsOf('merge', fn('merge', 'merge')).flatMap(actionsOf).filter((a) => /^(dynamodb|sqs):/.test(a))).toEqual([]);
  });

  it('sends repairs to the queue load really owns, and reads the table ingest exports', () => {
    // Prepare
    const env = environmentOf(reconcileFn());
    const loadQueue = resourcesOfType(template('load'), 'AWS::SQS::Queue').find(([id]) => id === 'LoadQueue')?.[1];
    // Assess
    expect(subTemplate(env.LOAD_QUEUE_URL)).toBe(`https://sqs.\${AWS::Region}.\${AWS::URLSuffix}/\${AWS::AccountId}/${loadQueue?.Properties?.QueueName as string}`);
    expect(exportNames(template('load'))).toContain(`claims-cdc-${STAGE}-load-queue-url`);
    expect(importedName(env.CLAIMS_TABLE_NAME)).toBe(`claims-cdc-${STAGE}-claims-table-name`);
    expect(env.RECONCILE_SEGMENTS).toBe('8');
  });

  it('has every environment variable the merge function has (the warehouse connection is listed key by key)', () => {
    // Prepare
    const merge = environmentOf(fn('merge', 'merge'));
    const reconcile = environmentOf(reconcileFn());
    // Assess
    expect(reconcile).toMatchObject(merge);
  });

  it('publishes the metric its drift alarm watches', () => {
    // Prepare
    const alarm = alarmsOf(template('merge')).ReconcileDriftAlarm as CfnResource;
    const source = readFileSync(join(serviceDir('merge'), 'src', 'handlers', 'reconcile.ts'), 'utf8');
    // Assess
    expect(alarmInput(alarm)).toMatchObject({ kind: 'metric', namespace: 'claims-cdc', metric: 'ReconcileDrifted', dimensions: { service: 'claims-cdc-merge' } });
    expect(source).toContain(`addMetric('ReconcileDrifted'`);
  });
});

// ---------------------------------------------------------------------------------------------- backfill

describe('load service, backfill function', () => {
  const backfillFn = (): PackagedFunction => fn('load', 'backfill');

  it('is invoked only by an operator: no event source, no schedule, no reserved concurrency, not retried, within the Lambda limit', () => {
    // Prepare
    const f = backfillFn();
    const targets = (type: string): string[] => resourcesOfType(template('load'), type).map(([, r]) => JSON.stringify(r.Properties ?? {}));
    // Assess
    expect(f.handler).toBe('src/handlers/backfill.handler');
    expect(eventSourceMappings('load').filter((m) => referencedId(m.Properties?.FunctionName as CfnValue) === f.logicalId)).toEqual([]);
    expect(targets('AWS::Events::Rule').filter((t) => t.includes(`"${f.logicalId}"`))).toEqual([]);
    expect(targets('AWS::Lambda::Permission').filter((t) => t.includes(`"${f.logicalId}"`))).toEqual([]);
    expect(f.resource.Properties?.ReservedConcurrentExecutions).toBeUndefined();
    expect(invokeConfigOf('load', f).Properties).toMatchObject({ MaximumRetryAttempts: 0 });
    expect(prop(f.resource, 'Timeout')).toBe(900);
  });

  it('may Scan the claims table and send to the load and quarantine queues, using the key only through DynamoDB and SQS, and nothing else', () => {
    // Prepare
    const f = backfillFn();
    const pipelineKey = `claims-cdc-${STAGE}-pipeline-key-arn`;
    const statements = statementsOf('load', f).map((s) => ({
      sid: s.Sid,
      actions: actionsOf(s).sort(),
      resources: asArray(s.Resource as CfnValue | CfnValue[]).map((r) => importedName(r) ?? subTemplate(r) ?? referencedId(r)),
      viaService: JSON.stringify(s.Condition ?? null),
    }));
    // Assess: exactly these statements (the log group's and X-Ray's as every function has).
    expect(statements).toEqual([
      { sid: 'OwnLogGroup', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['BackfillLogGroup'], viaService: 'null' },
      { sid: 'Tracing', actions: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], resources: ['*'], viaService: 'null' },
      { sid: 'ScanClaimsTable', actions: ['dynamodb:Scan'], resources: [`claims-cdc-${STAGE}-claims-table-arn`], viaService: 'null' },
      { sid: 'SendSnapshots', actions: ['sqs:SendMessage'], resources: ['LoadQueue', `arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${quarantineQueueName}`], viaService: 'null' },
      { sid: 'PipelineKeyThroughDynamoDb', actions: ['kms:Decrypt'], resources: [pipelineKey], viaService: JSON.stringify({ StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'dynamodb.${AWS::Region}.amazonaws.com' } } }) },
      { sid: 'PipelineKeyThroughSqs', actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [pipelineKey], viaService: JSON.stringify({ StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'sqs.${AWS::Region}.amazonaws.com' } } }) },
    ]);
    // The load function gained nothing from it.
    expect(statementsOf('load', fn('load', 'load')).flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
  });

  it('reads the table ingest exports and sends to the load queue this stack creates and the quarantine queue transform creates', () => {
    // Prepare
    const env = environmentOf(backfillFn());
    // Assess
    expect(importedName(env.CLAIMS_TABLE_NAME)).toBe(`claims-cdc-${STAGE}-claims-table-name`);
    expect(queueNamed('load', referencedId(env.LOAD_QUEUE_URL)).Properties?.QueueName).toBe(`claims-cdc-${STAGE}-load`);
    expect(subTemplate(env.QUARANTINE_QUEUE_URL)).toMatch(new RegExp(`/\\$\\{AWS::AccountId\\}/${quarantineQueueName}$`));
    expect(Object.keys(env).filter((name) => name.startsWith('SNOWFLAKE') || name === 'WAREHOUSE')).toEqual([]);
  });
});
