/**
 * A backfill stopped mid-way — by Ctrl-C, then by kill -9 — and run again continues from its per-segment checkpoint:
 * the destination converges (verify clean), nothing is lost and nothing doubled: every item's snapshot is in the
 * history exactly once, because a page read again keeps its request time and so its event ids.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TABLES } from '@claims-cdc/shared/warehouse/tables';
import { BACKFILL_CHECKPOINT_FILE, type BackfillCheckpoint } from '../src/backfill/checkpoint';
import { startCli } from './support/cli-process';
import { BackfillStack } from './support/backfill-stack';
import { waitUntil } from './support/wait';

jest.setTimeout(600_000);

const ITEMS = 600;

describe('backfill stopped mid-way and run again', () => {
  const stack = new BackfillStack();
  const checkpoint = (): BackfillCheckpoint | undefined => {
    try {
      return JSON.parse(readFileSync(path.join(stack.stateDir, BACKFILL_CHECKPOINT_FILE), 'utf8')) as BackfillCheckpoint;
    } catch {
      return undefined;
    }
  };
  const readSoFar = () => checkpoint()?.segments.reduce((n, s) => n + s.read, 0) ?? 0;
  /** A backfill in its own process, slow enough (small pages, small budget) to be stopped part-way. */
  const slowBackfill = () => startCli(['backfill', '--segments', '3', '--page-size', '20', '--max-rcu', '4', '--state-dir', stack.stateDir]);

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.stop().catch(() => undefined);
    stack.cleanup();
  });

  it('continues after Ctrl-C and after kill -9, and converges with every snapshot once', async () => {
    // Prepare
    expect(await stack.cli('generate', String(ITEMS), '--untracked', '--seed', '51')).toMatchObject({ code: 0 });
    // Untracked: in DynamoDB, never captured, so nowhere in the pipeline.
    expect(await stack.status()).toMatchObject({ items: ITEMS, captured: 0, history: 0, destination: 0 });

    // Act 1: Ctrl-C part-way: it stops after the pages in progress, says so, exit 130.
    const first = slowBackfill();
    await waitUntil(() => readSoFar() >= 60, 'the first pages of the backfill', 120_000);
    first.signal('SIGINT');
    const firstExit = await first.exited;
    const afterInterrupt = readSoFar();

    // Act 2: run again, then kill -9 part-way (possibly inside a page: sent, not yet checkpointed).
    const second = slowBackfill();
    await waitUntil(() => readSoFar() >= afterInterrupt + 60, 'the resumed backfill to read more pages', 120_000);
    process.kill(second.pid, 'SIGKILL');
    await second.exited;
    const afterKill = readSoFar();

    // Act 3: run again to the end.
    const last = await stack.cli('backfill', '--json');
    const verify = await stack.cli('verify', '--json', '--settle', '60');

    // Assess
    expect(firstExit.code).toBe(130);
    expect(first.stdout()).toMatch(/^✗ backfill interrupted; run it again to continue/m);
    expect(afterInterrupt).toBeLessThan(ITEMS);
    expect(afterKill).toBeGreaterThan(afterInterrupt);
    expect(afterKill).toBeLessThan(ITEMS);
    expect(last).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(last.out)).toMatchObject({ complete: true, resumed: true, read: ITEMS, sent: ITEMS, rejected: 0, segments: 3 });
    expect(JSON.parse(verify.out)).toMatchObject({ ok: true, items: ITEMS, destinationRows: ITEMS });
    expect(await stack.sql(`SELECT COUNT(*) AS n, COUNT(DISTINCT claimId) AS claims FROM ${TABLES.history} WHERE eventName = 'SNAPSHOT'`)).toEqual([{ n: ITEMS, claims: ITEMS }]);
  });

});

describe('a finished backfill', () => {
  const stack = new BackfillStack();
  const items = 100;

  beforeAll(() => stack.start());
  afterAll(async () => {
    await stack.stop().catch(() => undefined);
    stack.cleanup();
  });

  it('is not read again unless --restart, which reads every item once more (a new read)', async () => {
    // Prepare: a backfill run to its end.
    expect(await stack.cli('generate', String(items), '--untracked', '--seed', '52')).toMatchObject({ code: 0 });
    expect(JSON.parse((await stack.cli('backfill', '--json')).out)).toMatchObject({ complete: true, read: items });
    // Act
    const again = await stack.cli('backfill');
    const restarted = await stack.cli('backfill', '--restart', '--json');
    await stack.cli('verify', '--settle', '60');
    // Assess
    expect(again).toMatchObject({ code: 0, out: expect.stringMatching(/^backfill of InsuranceClaims already complete \(100 items read/) });
    expect(JSON.parse(restarted.out)).toMatchObject({ complete: true, resumed: false, read: items });
    expect(await stack.sql(`SELECT COUNT(*) AS n FROM ${TABLES.history} WHERE eventName = 'SNAPSHOT'`)).toEqual([{ n: 2 * items }]);
  });
});
