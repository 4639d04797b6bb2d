/**
 * The local stack's settings come from the services' serverless.yml files; the only differences are the listed,
 * reasoned LOCAL_DEVIATIONS; and the built-in fallback stays equal to what the files say.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultStackConfig, fromServerless, getPath, LOCAL_DEVIATIONS, loadStackConfig, REPO_ROOT } from '../src/stack/local-config';
import { loadServerlessYaml, rateToMs, ServerlessService } from '../src/stack/serverless-config';

/** A value of a service's serverless.yml as written (no variables resolved), by dotted path; array indexes allowed. */
const raw = (service: string, dotted: string): unknown =>
  dotted
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], loadServerlessYaml(path.join(REPO_ROOT, 'services', service, 'serverless.yml')));

describe('stack config from serverless.yml', () => {
  const config = loadStackConfig();

  describe.each([
    ['table name', 'table.name', () => raw('ingest', 'params.default.claimsTableName')],
    ['table key', 'table.partitionKey', () => raw('ingest', 'resources.Resources.ClaimsTable.Properties.KeySchema.0.AttributeName')],
    ['shard count', 'stream.shardCount', () => raw('ingest', 'params.default.streamShardCount')],
    ['load queue maxReceiveCount', 'queues.load.redrive.maxReceiveCount', () => raw('load', 'resources.Resources.LoadQueue.Properties.RedrivePolicy.maxReceiveCount')],
    ['load queue retention', 'queues.load.messageRetentionSeconds', () => raw('load', 'resources.Resources.LoadQueue.Properties.MessageRetentionPeriod')],
    ['load batch size', 'load.batchSize', () => raw('load', 'params.default.loadBatchSize')],
    ['transform batch size', 'transform.batchSize', () => raw('transform', 'params.default.transformBatchSize')],
    ['transform retries', 'transform.maxRetryAttempts', () => raw('transform', 'functions.transform.events.0.stream.maximumRetryAttempts')],
    ['transform bisect', 'transform.bisectBatchOnFunctionError', () => raw('transform', 'functions.transform.events.0.stream.bisectBatchOnFunctionError')],
    ['transform starting position', 'transform.startingPosition', () => raw('transform', 'functions.transform.events.0.stream.startingPosition')],
  ])('%s', (_name, configPath, fromYaml) => {
    it('equals the value in serverless.yml', () => {
      // Assess
      expect(getPath(config, configPath)).toEqual(fromYaml());
    });
  });

  it.each([
    ['queues.load.name', 'claims-cdc-local-load'],
    ['queues.loadDlq.name', 'claims-cdc-local-load-dlq'],
    ['queues.quarantine.name', 'claims-cdc-local-quarantine'],
    ['queues.transformFailure.name', 'claims-cdc-local-transform-failed-batches'],
  ])('resolves %s with the local stage to %s', (configPath, expected) => {
    // Assess
    expect(getPath(config, configPath)).toBe(expected);
  });

  it('takes the API routes and handler modules from the functions', () => {
    // Assess
    const events = raw('ingest', 'functions.api.events') as { httpApi: { method: string; path: string } }[];
    expect(config.api.routes).toEqual(events.map((e) => `${e.httpApi.method} ${e.httpApi.path}`));
    expect(config.api.handlerModule).toBe(path.join(REPO_ROOT, 'services', 'ingest', 'src', 'handlers', 'api'));
    expect(config.load).toMatchObject({ handlerExport: 'handler', timeoutMs: Number(raw('load', 'functions.load.timeout')) * 1000 });
  });

  describe.each(LOCAL_DEVIATIONS.map((d) => [d.path, d]))('local deviation %s', (_path, deviation) => {
    // Each deviation's `reason` is for the reader (the type requires one); a test cannot judge prose, so none does.
    it('is applied and still differs from serverless.yml', () => {
      // Assess
      expect(getPath(config, deviation.path)).toEqual(deviation.local);
      expect(getPath(fromServerless(REPO_ROOT), deviation.path)).not.toEqual(deviation.local);
    });
  });

  it('keeps the built-in fallback (used without serverless.yml files) equal to the files', () => {
    // Assess
    expect(defaultStackConfig()).toEqual(config);
  });

  it('applies overrides on top', () => {
    // Act
    const overridden = loadStackConfig({ overrides: { stream: { shardCount: 4 }, queues: { load: { visibilityTimeoutSeconds: 1 } } } });
    // Assess
    expect(overridden.stream).toEqual({ ...config.stream, shardCount: 4 });
    expect(overridden.queues.load).toEqual({ ...config.queues.load, visibilityTimeoutSeconds: 1 });
    expect(overridden.queues.loadDlq).toEqual(config.queues.loadDlq);
  });
});

describe('ServerlessService', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sls-'));
    writeFileSync(path.join(dir, 'common.yml'), ['names:', "  queue: app-${sls:stage}-q", 'numbers: &n', '  a: 1', 'merged:', '  <<: *n', '  b: 2'].join('\n'));
    writeFileSync(
      path.join(dir, 'serverless.yml'),
      [
        'service: svc',
        'params:',
        '  default:',
        '    size: 25',
        'custom:',
        '  size: ${param:size}',
        "  missing: ${param:nope, 'fallback-${sls:stage}'}",
        '  queue: ${file(./common.yml):names.queue}',
        '  merged: ${file(./common.yml):merged}',
        '  text: prefix-${self:service}-${param:size}',
        'resources:',
        '  Q:',
        '    Arn: !GetAtt Queue.Arn',
        '    Url: !Ref Queue',
        '    Sub: !Sub "arn:${AWS::Partition}:x"',
        '    Join: !Join [",", [a, b]]',
        '    Import: !ImportValue ${file(./common.yml):names.queue}',
      ].join('\n'),
    );
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['custom.size', 25],
    ['custom.missing', 'fallback-test'],
    ['custom.queue', 'app-test-q'],
    ['custom.merged', { a: 1, b: 2 }],
    ['custom.text', 'prefix-svc-25'],
    ['resources.Q.Arn', { 'Fn::GetAtt': ['Queue', 'Arn'] }],
    ['resources.Q.Url', { Ref: 'Queue' }],
    ['resources.Q.Sub', { 'Fn::Sub': 'arn:${AWS::Partition}:x' }],
    ['resources.Q.Join', { 'Fn::Join': [',', ['a', 'b']] }],
    ['resources.Q.Import', { 'Fn::ImportValue': 'app-test-q' }],
  ])('resolves %s', (dotted, expected) => {
    // Prepare
    const service = new ServerlessService(path.join(dir, 'serverless.yml'), 'test');
    // Act + Assess
    expect(service.get(dotted)).toEqual(expected);
  });

  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(2 hours)', 7_200_000],
  ])('turns %s into %i ms', (rate, ms) => {
    expect(rateToMs(rate)).toBe(ms);
  });

  it('rejects a schedule it cannot play locally', () => {
    expect(() => rateToMs('cron(0 12 * * ? *)')).toThrow('unsupported schedule expression');
  });
});
