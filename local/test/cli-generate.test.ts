/**
 * `claims-cdc generate N` in requests of at most 1,000, against a stand-in API that fails part-way: the user learns
 * how many claims were written and the exact command that writes the rest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeStackInfo } from '../src/stack/stack-client';
import { run } from '../src/cli/main';

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
};

describe('claims-cdc generate N', () => {
  let server: Server;
  const requests: Array<{ count: number; seed: number }> = [];
  let failOn = Number.POSITIVE_INFINITY;
  const stateDir = mkdtempSync(join(tmpdir(), 'claims-cdc-generate-'));

  beforeAll(async () => {
    // Prepare: an API that answers like the ingest handler, and fails the request numbered `failOn`
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const body = JSON.parse(text) as { count: number; seed: number };
        requests.push(body);
        if (requests.length === failOn) {
          res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'internal error' }));
          return;
        }
        const claimIds = Array.from({ length: body.count }, (_, i) => `CLM-${(body.seed * 1000 + i).toString(16).toUpperCase().padStart(8, '0').slice(-8)}`);
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ claimIds }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    writeStackInfo({ pid: process.pid, apiUrl: `http://127.0.0.1:${port}`, token: 't', startedAt: new Date().toISOString(), stateDir, endpoints: {} });
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    // The state directory holds the stack file with the API token: it must not outlive the test.
    rmSync(stateDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    requests.length = 0;
    failOn = Number.POSITIVE_INFINITY;
  });

  it('splits 2,500 into requests of 1,000, 1,000 and 500 with consecutive seeds', async () => {
    // Act
    const cli = capture();
    const code = await run(['generate', '2500', '--seed', '40', '--json', '--state-dir', stateDir], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(requests).toEqual([
      { count: 1000, seed: 40 },
      { count: 1000, seed: 41 },
      { count: 500, seed: 42 },
    ]);
    expect((JSON.parse(cli.out[0] as string) as { claimIds: string[] }).claimIds).toHaveLength(2500);
  });

  it('a failed request says how many were written and the command that writes the rest', async () => {
    // Prepare
    failOn = 3;
    const cli = capture();
    // Act
    const code = await run(['generate', '5000', '--seed', '7', '--state-dir', stateDir], cli.io);
    // Assess
    expect(code).toBe(1);
    expect(cli.err).toEqual([expect.stringContaining('wrote 2000 of 5000 claims (seed 7), then: ')]);
    expect(cli.err[0]).toContain('to write the rest: claims-cdc generate 3000 --seed 9');
    expect(requests).toHaveLength(3);
  });

  it('without --seed picks one and prints it, so the run can be repeated', async () => {
    // Act
    const cli = capture();
    const code = await run(['generate', '3', '--state-dir', stateDir], cli.io);
    // Assess
    expect(code).toBe(0);
    expect(cli.out.at(-1)).toMatch(new RegExp(`^generated 3 claims \\(seed ${requests[0]?.seed}\\): `));
  });
});
