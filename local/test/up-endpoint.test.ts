/**
 * `claims-cdc up --endpoint URL` against an external AWS-compatible endpoint. There is no Docker engine for LocalStack
 * here, so a second, separately started set of the embedded emulators (capture included: its table streams its
 * changes to its Kinesis stream, as LocalStack's Kinesis streaming destination would) plays the external AWS. The
 * stack under test starts no emulator and no capture, creates or reuses the resources there, and its destination
 * must end up mirroring the external table, read straight from the external DynamoDB.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { run } from '../src/cli/main';
import { externalEndpoints } from '../src/cli/commands/endpoint-args';
import { UsageError } from '../src/console/errors';
import { readStackInfo } from '../src/stack/stack-client';
import { killAllCliProcesses, startCli, type CliProcess } from './support/cli-process';
import { killAllTsChildren, REPO_ROOT, startTsChild, type TsChild } from './support/ts-child';
import { waitUntil } from './support/wait';

jest.setTimeout(180_000);

interface ExternalEndpoints {
  dynamodb: string;
  dynamodbUncaptured: string;
  kinesis: string;
  sqs: string;
  pids: Record<string, number>;
}

const cliIn = (stateDir: string) => async (...argv: string[]) => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run([...argv, '--state-dir', stateDir], { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join('\n'), err: err.join('\n') };
};

/** Every item of the external table, straight from its DynamoDB (not through the stack under test): id → status. */
async function externalTable(endpoint: string): Promise<Map<string, string>> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  try {
    const items = new Map<string, string>();
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: 'InsuranceClaims', ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of page.Items ?? []) items.set(item.claim_id!.S!, item.claim_status?.S ?? '');
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  } finally {
    client.destroy();
  }
}

/** The command lines of `pid`'s child processes (ps exits 1 when there are none). */
function childProcessesOf(pid: number): string[] {
  const ps = spawnSync('ps', ['-o', 'args=', '--ppid', String(pid)], { encoding: 'utf8' });
  if (ps.status !== 0 && ps.status !== 1) throw new Error(`ps failed: ${ps.stderr}`);
  return ps.stdout.split('\n').map((line) => line.trim()).filter(Boolean);
}

describe('claims-cdc up --endpoint, against separately started emulators', () => {
  const externalDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-external-'));
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-up-endpoint-'));
  const cli = cliIn(stateDir);
  let externalAws: TsChild;
  let endpoints: ExternalEndpoints;
  let up: CliProcess;

  beforeAll(async () => {
    externalAws = startTsChild(path.join(REPO_ROOT, 'local', 'test', 'fixtures', 'external-aws.ts'), [externalDir]);
    const [, json] = await externalAws.waitForOutput(/^endpoints (.+)$/m);
    endpoints = JSON.parse(json!) as ExternalEndpoints;
    // One URL for DynamoDB with --endpoint; the embedded emulators have a port per service, so Kinesis and SQS
    // come from the per-service variables the SDK honours (LocalStack needs only --endpoint).
    up = startCli(['up', '--state-dir', stateDir, '--endpoint', endpoints.dynamodb], {
      AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis,
      AWS_ENDPOINT_URL_SQS: endpoints.sqs,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    await up.waitForOutput(/^Ctrl-C stops the stack\.$/m, 120_000);
  });

  afterAll(() => {
    killAllCliProcesses();
    killAllTsChildren();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(externalDir, { recursive: true, force: true });
  });

  it('says it uses the external endpoints, and starts no emulator and no capture of its own', async () => {
    // Act
    // The emulators and the capture run as node child processes of an embedded stack; a stack without them has tsx's
    // esbuild service and the transform handler's own process (handler-process), which runs the handler, not AWS.
    const children = childProcessesOf(up.pid);
    const status = await cli('status', '--json');
    // Assess
    expect(up.stdout()).toContain(`using external AWS endpoint DynamoDB ${endpoints.dynamodb}, Kinesis ${endpoints.kinesis}, SQS ${endpoints.sqs}; no emulators, no capture started`);
    expect(children.filter((args) => !/esbuild|handler-process\.(ts|js)/.test(args))).toEqual([]);
    expect(children.filter((args) => /handler-process\.(ts|js)/.test(args))).toHaveLength(1);
    expect(readStackInfo(stateDir)).toMatchObject({ endpoints: { dynamodb: endpoints.dynamodb, kinesis: endpoints.kinesis, sqs: endpoints.sqs } });
    expect(readStackInfo(stateDir)?.dynamodbUncaptured).toBeUndefined();
    expect(status.code).toBe(0);
    expect(JSON.parse(status.out)).toMatchObject({ external: true });
  });

  it('warns, naming what to do, when the endpoint cannot turn on the table\'s Kinesis streaming destination', () => {
    // Assess: the embedded DynamoDB does not implement it (its capture streams the table instead).
    expect(up.stderr()).toMatch(/warning: the DynamoDB endpoint does not support Kinesis streaming destinations \(UnknownOperationException/);
    expect(up.stderr()).toContain('reach stream');
  });

  it('claims written through its API reach its destination, which mirrors the external table', async () => {
    // Act
    const reply = await cli('generate', '12', '--seed', '41', '--json');
    const claimIds = (JSON.parse(reply.out) as { claimIds: string[] }).claimIds;
    const [modified, deleted] = claimIds as [string, string];
    await waitUntil(async () => {
      const rows = JSON.parse((await cli('sql', 'select count(*) as n from openflow_insclaim_dest_tbl', '--json')).out) as { n: number }[];
      return Number(rows[0]?.n) === claimIds.length ? true : undefined;
    }, 'the generated claims in the destination', 90_000);
    expect((await cli('modify', modified, '--status', 'Rejected')).code).toBe(0);
    expect((await cli('delete', deleted)).code).toBe(0);
    // Assess
    const truth = await externalTable(endpoints.dynamodbUncaptured);
    expect([...truth.keys()].sort()).toEqual(claimIds.filter((id) => id !== deleted).sort());
    const destination = await waitUntil(async () => {
      const rows = JSON.parse((await cli('sql', 'select claimId, claimStatus from openflow_insclaim_dest_tbl order by claimId', '--json')).out) as { claimId: string; claimStatus: string }[];
      const status = rows.find((r) => r.claimId === modified)?.claimStatus;
      return rows.length === truth.size && status === 'Rejected' ? rows : undefined;
    }, 'the modify and the delete in the destination', 90_000);
    expect(truth.get(modified)).toBe('Rejected');
    expect(destination).toEqual([...truth].sort(([a], [b]) => a.localeCompare(b)).map(([claimId, claimStatus]) => ({ claimId, claimStatus })));
    // What the stack still owns stays in its state directory: the transform's checkpoints on the external stream too.
    expect(existsSync(path.join(stateDir, 'kinesis-checkpoints.json'))).toBe(true);
    const verify = await cli('verify', '--json');
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, missing: [], extra: [], differing: [] });
  });
});

describe('externalEndpoints: where up --endpoint points each service', () => {
  it.each([
    ['no flag, no variables: the emulators', undefined, {}, undefined],
    ['--endpoint for every service', 'http://localhost:4566', {}, { dynamodb: 'http://localhost:4566', kinesis: 'http://localhost:4566', sqs: 'http://localhost:4566' }],
    ['AWS_ENDPOINT_URL like --endpoint', undefined, { AWS_ENDPOINT_URL: 'http://ls:4566/' }, { dynamodb: 'http://ls:4566', kinesis: 'http://ls:4566', sqs: 'http://ls:4566' }],
    ['a per-service variable wins over --endpoint', 'http://a:1', { AWS_ENDPOINT_URL_SQS: 'http://b:2' }, { dynamodb: 'http://a:1', kinesis: 'http://a:1', sqs: 'http://b:2' }],
    ['all three per-service variables', undefined, { AWS_ENDPOINT_URL_DYNAMODB: 'http://d:1', AWS_ENDPOINT_URL_KINESIS: 'http://k:2', AWS_ENDPOINT_URL_SQS: 'http://s:3' }, { dynamodb: 'http://d:1', kinesis: 'http://k:2', sqs: 'http://s:3' }],
  ])('%s', (_, flag, env, expected) => {
    // Act / Assess
    expect(externalEndpoints(flag, env)).toEqual(expected);
  });

  it.each([
    ['a service left without an endpoint (it would go to real AWS)', undefined, { AWS_ENDPOINT_URL_DYNAMODB: 'http://d:1' }, /no endpoint for AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_SQS/],
    ['not a URL', 'localhost:4566', {}, /--endpoint must be an http:\/\/ or https:\/\/ URL/],
    ['garbage in a variable', undefined, { AWS_ENDPOINT_URL: 'not a url' }, /AWS_ENDPOINT_URL must be a URL/],
  ])('refuses %s', (_, flag, env, message) => {
    // Act / Assess
    expect(() => externalEndpoints(flag, env)).toThrow(UsageError);
    expect(() => externalEndpoints(flag, env)).toThrow(message);
  });
});
