/**
 * The parts of `--target aws` that need no endpoint: reading a stage's resources from CloudFormation outputs (the
 * CloudFormation client mocked with aws-sdk-client-mock), and the SigV4 signature of API calls, checked against an
 * independent implementation of the published algorithm (node:crypto, not the signing library).
 */
import { createHash, createHmac } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { warehouseConfigFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { functionWarehouseEnv, stageWarehouseEnv } from '../src/aws-target/warehouse';
import { AwsTargetError, CloudFormationSource, resourcesFromOutputs, resourceSourceFromEnv, NamingConventionSource, regionOfApiUrl, signApiRequest } from '../src/aws-target';

const outputs = (pairs: Record<string, string>) => Object.entries(pairs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue }));

const INGEST = outputs({
  ClaimsTableName: 'ClaimsStaging',
  ClaimsStreamArn: 'arn:aws:kinesis:eu-west-1:123456789012:stream/claims-cdc-staging-claim-changes',
  HttpApiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
  PipelineKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/x',
});
const LOAD = outputs({
  LoadQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-load',
  LoadDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-load-dlq',
  LoadQueueArn: 'arn:aws:sqs:eu-west-1:123456789012:claims-cdc-staging-load',
});
const TRANSFORM = outputs({
  QuarantineQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-quarantine',
  TransformFailedBatchesQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-transform-failed-batches',
});

describe('a stage resolved from CloudFormation outputs', () => {
  const cfn = mockClient(CloudFormationClient);
  afterEach(() => cfn.reset());
  afterAll(() => cfn.restore());

  it('reads the ingest, load and transform stacks of the stage and takes every name from their outputs', async () => {
    // Prepare
    cfn.on(DescribeStacksCommand, { StackName: 'claims-cdc-ingest-staging' }).resolves({ Stacks: [{ StackName: 'claims-cdc-ingest-staging', CreationTime: new Date(), StackStatus: 'UPDATE_COMPLETE', Outputs: INGEST }] });
    cfn.on(DescribeStacksCommand, { StackName: 'claims-cdc-load-staging' }).resolves({ Stacks: [{ StackName: 'claims-cdc-load-staging', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: LOAD }] });
    cfn.on(DescribeStacksCommand, { StackName: 'claims-cdc-transform-staging' }).resolves({ Stacks: [{ StackName: 'claims-cdc-transform-staging', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: TRANSFORM }] });
    // Act
    const resources = await new CloudFormationSource().resolve('staging');
    // Assess
    expect(resources).toEqual({
      stage: 'staging',
      source: 'cloudformation',
      tableName: 'ClaimsStaging',
      streamName: 'claims-cdc-staging-claim-changes',
      apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
      queues: {
        load: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-load',
        loadDlq: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-load-dlq',
        quarantine: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-quarantine',
        transformFailure: 'https://sqs.eu-west-1.amazonaws.com/123456789012/claims-cdc-staging-transform-failed-batches',
      },
    });
    expect(cfn.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input.StackName).sort()).toEqual(['claims-cdc-ingest-staging', 'claims-cdc-load-staging', 'claims-cdc-transform-staging']);
  });

  it('says which stack is missing when the stage is not deployed', async () => {
    // Prepare
    cfn.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id claims-cdc-ingest-nope does not exist'), { name: 'ValidationError' }));
    // Act + Assess
    await expect(new CloudFormationSource().resolve('nope')).rejects.toThrow(/^no stack claims-cdc-(ingest|load|transform)-nope in this account and region/);
  });

  it.each([
    ['ingest', 'HttpApiUrl', /stack claims-cdc-ingest-staging has no output HttpApiUrl: deploy this version of services\/ingest/],
    ['transform', 'QuarantineQueueUrl', /stack claims-cdc-transform-staging has no output QuarantineQueueUrl/],
    ['load', 'LoadDeadLetterQueueUrl', /stack claims-cdc-load-staging has no output LoadDeadLetterQueueUrl/],
  ] as const)('names the %s output %s when a stack lacks it', (service, key, message) => {
    // Prepare
    const all = { ingest: INGEST, load: LOAD, transform: TRANSFORM };
    const without = { ...all, [service]: all[service].filter((o) => o.OutputKey !== key) };
    // Act + Assess
    expect(() => resourcesFromOutputs('staging', without)).toThrow(message);
  });

  it('CLAIMS_CDC_RESOLVE chooses the source, and anything else is refused', () => {
    // Assess
    expect(resourceSourceFromEnv({})).toBeInstanceOf(CloudFormationSource);
    expect(resourceSourceFromEnv({ CLAIMS_CDC_RESOLVE: 'names' })).toBeInstanceOf(NamingConventionSource);
    expect(() => resourceSourceFromEnv({ CLAIMS_CDC_RESOLVE: 'ssm' })).toThrow(AwsTargetError);
  });
});

/** SigV4 per the published algorithm, written from the specification with node:crypto only. */
function referenceAuthorization(o: { method: string; host: string; path: string; body: string | undefined; amzDate: string; region: string; key: string; secret: string; token?: string }): string {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const hmac = (key: Buffer | string, text: string) => createHmac('sha256', key).update(text).digest();
  const headers: Record<string, string> = { ...(o.body === undefined ? {} : { 'content-type': 'application/json' }), host: o.host, 'x-amz-date': o.amzDate, ...(o.token ? { 'x-amz-security-token': o.token } : {}) };
  const names = Object.keys(headers).sort();
  const canonical = [o.method, o.path, '', ...names.map((n) => `${n}:${headers[n]}`), '', names.join(';'), sha(o.body ?? '')].join('\n');
  const day = o.amzDate.slice(0, 8);
  const scope = `${day}/${o.region}/execute-api/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', o.amzDate, scope, sha(canonical)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${o.secret}`, day), o.region), 'execute-api'), 'aws4_request');
  return `AWS4-HMAC-SHA256 Credential=${o.key}/${scope}, SignedHeaders=${names.join(';')}, Signature=${createHmac('sha256', signingKey).update(toSign).digest('hex')}`;
}

describe('SigV4 signing of API calls', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
  const at = new Date('2026-03-04T05:06:07Z');

  it.each([
    ['a POST with a body, region from the API host', 'https://abc123.execute-api.eu-west-1.amazonaws.com', 'POST', '/claims/samples', { count: 3, seed: 7 }, undefined, 'eu-west-1'],
    ['a DELETE without a body', 'https://abc123.execute-api.us-east-2.amazonaws.com', 'DELETE', '/claims/CLM-0000000A', undefined, undefined, 'us-east-2'],
    ['a custom domain with a base path, region from the credentials chain', 'https://claims.example.com/v1', 'PATCH', '/claims/CLM-0000000A', { claimStatus: 'Paid' }, 'TOKEN', 'ap-south-1'],
  ])('%s matches the reference signature', async (_name, apiUrl, method, pathname, body, token, region) => {
    // Act
    const signed = await signApiRequest({ credentials: { ...credentials, ...(token ? { sessionToken: token } : {}) }, region: 'ap-south-1' }, apiUrl, method, pathname, body, at);
    // Assess
    const path = `${new URL(apiUrl).pathname.replace(/\/$/, '')}${pathname}`;
    expect(signed.url.pathname).toBe(path);
    expect(signed.headers['x-amz-date']).toBe('20260304T050607Z');
    expect(signed.headers['x-amz-content-sha256']).toBeUndefined();
    const expected = referenceAuthorization({ method, host: new URL(apiUrl).host, path, body: body === undefined ? undefined : JSON.stringify(body), amzDate: '20260304T050607Z', region, key: credentials.accessKeyId, secret: credentials.secretAccessKey, ...(token ? { token } : {}) });
    expect(signed.headers.authorization).toBe(expected);
  });

  it('reads the region of an API Gateway host, and none of another host', () => {
    // Assess
    expect(regionOfApiUrl(new URL('https://abc.execute-api.eu-central-1.amazonaws.com/x'))).toBe('eu-central-1');
    expect(regionOfApiUrl(new URL('http://127.0.0.1:3000'))).toBeUndefined();
  });
});

describe('the warehouse of a deployed stage', () => {
  it('is configured like the merge function: Snowflake, its default identifiers, the key from the stage secret', () => {
    // Act
    const env = functionWarehouseEnv('staging');
    const config = warehouseConfigFromEnv(stageWarehouseEnv('staging', { SNOWFLAKE_ACCOUNT: 'myorg-myaccount' }));
    // Assess
    expect(env).toMatchObject({ WAREHOUSE: 'snowflake', SNOWFLAKE_USER: 'CLAIMS_CDC_SVC', SNOWFLAKE_DATABASE: 'CLAIMS_CDC', SNOWFLAKE_SECRET_ARN: 'claims-cdc/staging/snowflake' });
    expect(env).not.toHaveProperty('SNOWFLAKE_ACCOUNT');
    expect(config).toMatchObject({ kind: 'snowflake', account: 'myorg-myaccount', username: 'CLAIMS_CDC_SVC', keySource: { kind: 'secrets-manager', secretId: 'claims-cdc/staging/snowflake' } });
  });

  it('names the deploy-time parameter when SNOWFLAKE_ACCOUNT is missing, and takes the caller\'s WAREHOUSE as is', () => {
    // Assess
    expect(() => warehouseConfigFromEnv(stageWarehouseEnv('staging', {}))).toThrow(/SNOWFLAKE_ACCOUNT.*snowflakeAccount parameter/);
    expect(warehouseConfigFromEnv(stageWarehouseEnv('staging', { WAREHOUSE: 'duckdb', DUCKDB_PATH: '/tmp/x.duckdb' }))).toEqual({ kind: 'duckdb', path: '/tmp/x.duckdb' });
  });
});
