/**
 * `--target aws --stage S` against the embedded emulators exposed as if they were AWS: the stack runs in this process
 * with the real handlers, and the commands find it only as a deployed stage is found — AWS_ENDPOINT_URL_* (which the
 * stack sets), resources by the naming convention (CLAIMS_CDC_RESOLVE=names; the local stack's stage is `local`),
 * DuckDB standing in for Snowflake through the warehouse env (WAREHOUSE=duckdb), and the ingest API behind a proxy
 * that, like API Gateway with `authorizer: aws_iam`, lets a request through only when its SigV4 signature is right.
 */
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { generateClaims, TABLES, type Claim } from '@claims-cdc/shared';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { warehouseFromEnv } from '@claims-cdc/shared/warehouse/from-env';
import { run } from '../src/cli/main';
import type { AwsStageStatus } from '../src/aws-target';
import type { VerifyResult } from '../src/inspect/verify';
import type { QuarantineEntry } from '../src/quarantine/store';
import { startStack, type RunningStack } from '../src/stack';
import { waitUntil } from './support/wait';

/**
 * A stand-in for API Gateway's IAM authorization: recomputes the SigV4 signature of each request as received (method,
 * host, path, query, body, the x-amz-date it carries) with the credentials the caller's chain holds, refuses a
 * mismatch with 403, and forwards a match to the stack's API with its bearer token.
 */
async function startSigV4Proxy(target: string, token: string, credentials: { accessKeyId: string; secretAccessKey: string }, region: string) {
  const seen = { verified: 0, refused: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
        const amzDate = String(req.headers['x-amz-date'] ?? '');
        const authorization = String(req.headers.authorization ?? '');
        const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
        const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
        let ok = false;
        if (when && authorization.startsWith(`AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/`) && signedHeaders.includes('host')) {
          // The payload hash is computed from the body as received, never taken from a header the caller sent.
          const signer = new SignatureV4({ service: 'execute-api', region, credentials, sha256: Sha256, applyChecksum: false });
          const headers = Object.fromEntries(signedHeaders.filter((h) => h !== 'x-amz-date' && h !== 'x-amz-content-sha256').map((h) => [h, String(req.headers[h] ?? '')]));
          const expected = await signer.sign(
            { method: req.method ?? 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, query: Object.fromEntries(url.searchParams), headers, ...(body ? { body } : {}) },
            { signingDate: new Date(`${when[1]}-${when[2]}-${when[3]}T${when[4]}:${when[5]}:${when[6]}Z`) },
          );
          ok = expected.headers.authorization === authorization;
        }
        if (!ok) {
          seen.refused += 1;
          res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Forbidden' }));
          return;
        }
        seen.verified += 1;
        const forwarded = await fetch(new URL(`${url.pathname}${url.search}`, target), {
          method: req.method ?? 'GET',
          headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
          ...(body ? { body } : {}),
        });
        res.writeHead(forwarded.status, { 'content-type': 'application/json' }).end(await forwarded.text());
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('claims-cdc --target aws against emulators standing in for a deployed stage', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-aws-target-'));
  const aws = ['--target', 'aws', '--stage', 'local'];
  let stack: RunningStack;
  let proxy: Awaited<ReturnType<typeof startSigV4Proxy>>;
  const envBefore = { ...process.env };
  let claimIds: string[] = [];

  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const status = async () => JSON.parse((await cli('status', ...aws, '--json')).out) as AwsStageStatus;
  const quarantineDepth = async () => {
    const reply = await stack.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.resources.queues.quarantine.url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(reply.Attributes?.ApproximateNumberOfMessages) + Number(reply.Attributes?.ApproximateNumberOfMessagesNotVisible);
  };

  beforeAll(async () => {
    stack = await startStack({ stateDir, persist: false, mergeIntervalMs: 200, env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } });
    proxy = await startSigV4Proxy(stack.endpoints.api, stack.token, { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! }, process.env.AWS_REGION!);
    Object.assign(process.env, {
      CLAIMS_CDC_RESOLVE: 'names',
      CLAIMS_CDC_API_URL: proxy.url,
      // The local stack keeps the quickstart's stream name (LOCAL_DEVIATIONS), not claims-cdc-<stage>-claim-changes.
      CLAIMS_CDC_STREAM_NAME: stack.resources.stream.name,
    });
  }, 120_000);

  afterAll(async () => {
    await proxy?.close();
    await stack?.stop();
    await warehouseFromEnv().close();
    for (const name of ['CLAIMS_CDC_RESOLVE', 'CLAIMS_CDC_API_URL', 'CLAIMS_CDC_STREAM_NAME']) if (envBefore[name] === undefined) delete process.env[name];
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('status reads the stage by its conventional names: table, stream, four queues, warehouse', async () => {
    // Act
    const s = await status();
    const text = await cli('status', ...aws);
    // Assess
    expect(s.resources).toMatchObject({ source: 'names', tableName: 'InsuranceClaims', queues: { quarantine: stack.resources.queues.quarantine.url, load: stack.resources.queues.load.url } });
    expect(s).toMatchObject({ items: 0, destination: 0, stream: { name: stack.resources.stream.name, status: 'ACTIVE' } });
    expect(s.warehouse).toBe(`duckdb ${path.join(stateDir, 'warehouse.duckdb')}`);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^stage\s+local \(resources from the naming convention\)$/m);
  });

  it('generate calls the API SigV4-signed: every request passes the signature check and the claims arrive', async () => {
    // Act
    const generated = await cli('generate', '20', '--seed', '5', ...aws, '--json');
    claimIds = (JSON.parse(generated.out) as { claimIds: string[] }).claimIds;
    // Assess
    expect(generated.code).toBe(0);
    expect(claimIds).toEqual(generateClaims(20, 5).map((c) => c.claim_id));
    expect(proxy.seen).toEqual({ verified: 1, refused: 0 });
    await waitUntil(async () => (await status()).destination === 20, 'the 20 claims in the destination', 30_000);
  });

  it('the proxy refuses a request whose signature does not match what was sent (so a passing check means something)', async () => {
    // Prepare: a correctly signed request, replayed with another body.
    const { signApiRequest } = await import('../src/aws-target');
    const signed = await signApiRequest({ credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID!, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY! }, region: process.env.AWS_REGION! }, proxy.url, 'POST', '/claims/samples', { count: 1, seed: 1 });
    const { host: _host, ...headers } = signed.headers;
    // Act
    const tampered = await fetch(signed.url, { method: 'POST', headers, body: JSON.stringify({ count: 1000, seed: 1 }) });
    // Assess
    expect(tampered.status).toBe(403);
    expect(proxy.seen.refused).toBe(1);
  });

  it('verify compares the stage table with the destination and finds them equal', async () => {
    // Act
    const verified = await cli('verify', ...aws, '--settle', '30', '--json');
    // Assess
    const result = JSON.parse(verified.out) as VerifyResult;
    expect(verified.code).toBe(0);
    expect(result).toMatchObject({ ok: true, items: 20, destinationRows: 20, settled: true, missing: [], extra: [] });
  });

  it('modify and delete go through the signed API; verify then still matches', async () => {
    // Prepare
    const [first, second] = claimIds as [string, string];
    // Act
    const modified = await cli('modify', first, '--status', 'Approved', ...aws);
    const deleted = await cli('delete', second, ...aws);
    // Assess
    expect([modified.code, deleted.code]).toEqual([0, 0]);
    const item = await stack.clients.dynamodb.send(new GetItemCommand({ TableName: 'InsuranceClaims', Key: { claim_id: { S: first } } }));
    expect(item.Item?.claim_status?.S).toBe('Approved');
    await waitUntil(async () => (await status()).destination === 19, 'the deleted claim gone from the destination', 30_000);
    const verified = JSON.parse((await cli('verify', ...aws, '--settle', '30', '--json')).out) as VerifyResult;
    expect(verified).toMatchObject({ ok: true, items: 19, differing: [] });
  });

  describe('quarantine', () => {
    const claim = generateClaims(1, 4242)[0] as Claim;
    const poison = JSON.stringify(
      buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: claim.claim_id }, newImage: { ...claim, total_charge: String(claim.total_charge) }, micros: 1_731_924_555_932_000 }),
    );
    let entryId = '';
    const list = async () => JSON.parse((await cli('quarantine', 'list', ...aws, '--json')).out) as QuarantineEntry[];

    it('list reads the quarantine queue in place: the entry is listed without its payload and stays in the queue', async () => {
      // Prepare: a record the transform rejects (a number as a string), put on the stream as DynamoDB would.
      const put = await stack.clients.kinesis.send(new PutRecordCommand({ StreamName: stack.resources.stream.name, PartitionKey: 'poison', Data: Buffer.from(poison) }));
      await waitUntil(async () => (await quarantineDepth()) > 0, 'the poison record in the quarantine queue', 30_000);
      // Act
      const entries = await list();
      const again = await list();
      // Assess
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ reason: 'claim-schema', origin: { stage: 'transform', id: put.SequenceNumber }, complete: true });
      expect(entries[0]).not.toHaveProperty('payload');
      expect(again.map((e) => e.id)).toEqual(entries.map((e) => e.id));
      expect(await quarantineDepth()).toBe(1);
      entryId = entries[0]!.id;
    });

    it('show prints the record after the PHI warning', async () => {
      // Act
      const shown = await cli('quarantine', 'show', entryId.slice(0, 6), ...aws);
      // Assess
      expect(shown.code).toBe(0);
      expect(shown.out).toBe(poison);
      expect(shown.err).toMatch(/^WARNING: the payload below is raw claim data/);
    });

    it('redrive refuses a record the pipeline would reject again and leaves the entry in the queue', async () => {
      // Prepare
      const file = path.join(stateDir, 'still-broken.json');
      writeFileSync(file, poison);
      // Act
      const reply = await cli('quarantine', 'redrive', entryId, '--file', file, ...aws);
      // Assess
      expect(reply.code).toBe(1);
      expect(reply.err).toMatch(/^claims-cdc quarantine: the fixed record would be rejected again: claim-schema: .*total_charge/);
      expect((await list()).map((e) => e.id)).toEqual([entryId]);
    });

    it('redrive sends the fixed record to the stream, deletes the entry, and the claim reaches the destination', async () => {
      // Prepare
      const fixed = JSON.parse(poison) as { dynamodb: { NewImage: Record<string, unknown> } };
      fixed.dynamodb.NewImage.total_charge = { N: String(claim.total_charge) };
      const file = path.join(stateDir, 'fixed.json');
      writeFileSync(file, JSON.stringify(fixed));
      // Act
      const reply = await cli('quarantine', 'redrive', entryId, '--file', file, ...aws);
      // Assess
      expect(reply.code).toBe(0);
      expect(reply.out).toMatch(new RegExp(`^${entryId} re-driven to the Kinesis stream \\(sequence number \\d+\\)$`));
      expect(await quarantineDepth()).toBe(0);
      expect(await list()).toEqual([]);
      await waitUntil(async () => (await warehouseFromEnv().query(`SELECT claimId FROM ${TABLES.destination} WHERE claimId = '${claim.claim_id}'`)).length === 1, 'the re-driven claim in the destination', 30_000);
    });
  });

  it.each([
    [['status', '--target', 'aws'], /--target aws needs --stage S/],
    [['status', '--stage', 'prod'], /--stage goes with --target aws/],
    [['status', '--target', 'gcp', '--stage', 'x'], /--target must be aws/],
    [['verify', '--target', 'aws', '--stage', 'x', '--state-dir', '.claims-cdc'], /give it or --target aws, not both/],
    [['generate', '3', '--untracked', '--target', 'aws', '--stage', 'x'], /--untracked writes behind the local capture/],
  ])('%j is a usage error', async (argv, message) => {
    // Act
    const reply = await cli(...argv);
    // Assess
    expect(reply.code).toBe(2);
    expect(reply.err).toMatch(message);
  });
});
