/**
 * `status` accounts for every change written: the stack runs its real handlers, with gates in front of the transform
 * and the load that the test closes, so the changes it writes stop in every stage at once (merged, staged, in the load
 * queue and in a load call, in a transform call, unread on the stream, quarantined). The sum of status's stages must
 * then be exactly the number of changes written, which the test knows from what it wrote, not from the stack.
 *
 * The invariant, exact whenever no call is between its side effect and its acknowledgement (the gates hold calls
 * before the real handler runs), with one row per load-queue message (transform batch size 1). The transform's
 * poller reads ahead of its calls (up to a thousand records); more than that are written so some stay unread.
 *   written = capture pending + unread on the stream + read by the transform, not done + load-queue messages
 *             + history (staged + merged) + quarantined
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { buildChangeRecord } from '@claims-cdc/shared/test-support/change-records';
import { claims } from '@claims-cdc/shared/test-support/factories';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import type { Context } from 'aws-lambda';
import { collectPipelineStatus } from '../src/inspect/collect-status';
import type { PipelineStatus } from '../src/inspect/pipeline-status';
import { statusLines } from '../src/inspect/status-view';
import { stackWarehouse } from '../src/inspect/stack-warehouse';
import { loadStackConfig, type HandlerRef } from '../src/stack/local-config';
import { startStack, type RunningStack } from '../src/stack/start-stack';
import { run } from '../src/cli/main';
import { registerCliControls } from '../src/inspect/stack-controls';
import { startLivePage, type LivePage } from '../src/live-page';
import { compiledStackEnv } from './support/node-entry';
import { waitUntil } from './support/wait';

// The stack of this file forks its children (AWS processes, handler process) from local/dist while it is current (no tsx
// at each start); this file's process.env is its own.
Object.assign(process.env, compiledStackEnv());

/** Holds calls while closed; lets them (and every later one) through when opened. */
class Gate {
  #opened: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  close(): void {
    this.#opened = new Promise((resolve) => (this.#open = resolve));
  }
  open(): void {
    this.#open();
  }
  pass(): Promise<void> {
    return this.#opened;
  }
}

/** The real handler behind a gate; imported at its first call, when the stack has set the environment. */
const gated = <E, R>(ref: HandlerRef, gate: Gate) => {
  let real: ((event: E, context: Context) => Promise<R>) | undefined;
  return async (event: E, context: Context): Promise<R> => {
    await gate.pass();
    real ??= ((await import(ref.handlerModule)) as Record<string, (event: E, context: Context) => Promise<R>>)[ref.handlerExport];
    return (real as (event: E, context: Context) => Promise<R>)(event, context);
  };
};

/** Every stage status shows, summed: where each change written is. */
const accounted = (s: PipelineStatus): number => s.capturePending + (s.onStream ?? 0) + s.transformPending + s.loadQueue + s.history + s.quarantined;

describe('status accounts for every change written, stage by stage', () => {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-accounting-'));
  const transformGate = new Gate();
  const loadGate = new Gate();
  let stack: RunningStack;
  let warehouse: Warehouse;
  let written = 0;
  let live: LivePage | undefined;

  const status = () => collectPipelineStatus(stack, warehouse);
  /** Waits for a status; on a timeout the error shows the last one (counts only) and the pollers' last errors. */
  const settle = async (what: string, done: (s: PipelineStatus) => boolean, timeoutMs = 30_000) => {
    let last: PipelineStatus | undefined;
    try {
      return await waitUntil(async () => {
        last = await status();
        return done(last) ? last : undefined;
      }, what, timeoutMs);
    } catch (error) {
      const c = stack.counters();
      const errors = { transform: c.transform?.lastError, load: c.load?.lastError, merge: c.merge?.lastError };
      throw new Error(`${(error as Error).message}; last status ${JSON.stringify(last)}; errors ${JSON.stringify(errors)}`);
    }
  };
  /** Claims through the API's generator; counts what was written. */
  const generate = async (count: number, seed: number) => {
    const reply = await fetch(new URL('/claims/samples', stack.endpoints.api), {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ count, seed }),
    });
    expect(reply.status).toBe(201);
    written += ((await reply.json()) as { claimIds: string[] }).claimIds.length;
  };

  beforeAll(async () => {
    const config = loadStackConfig();
    stack = await startStack({
      stateDir,
      persist: false,
      transformBatchSize: 1,
      mergeIntervalMs: 3_600_000,
      handlers: { transform: gated(config.transform, transformGate), load: gated(config.load, loadGate) },
      env: { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' },
    });
    warehouse = stackWarehouse();
    await warehouse.init();
    registerCliControls(stack, warehouse, new Date());
    live = await startLivePage(stack, warehouse);
  });

  afterAll(async () => {
    transformGate.open();
    loadGate.open();
    await live?.stop();
    await stack?.stop();
    await warehouse?.close().catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('finds each change in exactly one stage while the pipeline is stopped in all of them', async () => {
    // Prepare: merged (8), quarantined (1 the transform rejects), staged (5)
    await generate(8, 1);
    const [claim] = claims(1, 99);
    const bad = { ...claim!, claim_id: 'CLM-0BAD0BAD', claim_status: 'Lost in the mail' };
    const image = buildChangeRecord({ eventName: 'INSERT', tableName: 'InsuranceClaims', keys: { claim_id: bad.claim_id }, newImage: bad, micros: Date.now() * 1000 }).dynamodb.NewImage;
    await stack.clients.dynamodb.send(new PutItemCommand({ TableName: stack.resources.table.name, Item: image as unknown as Record<string, AttributeValue> }));
    written += 1;
    const quiet = await settle('8 rows loaded and 1 quarantined', (s) => s.history === 8 && s.quarantined === 1 && s.inStream === 0 && s.loadQueue === 0);
    expect(accounted(quiet)).toBe(written);
    await stack.triggerMerge();
    await generate(5, 2);
    await settle('5 more rows staged', (s) => s.history === 13 && s.staged === 5 && s.loadQueue === 0);
    // ... in the load queue and a load call (4), held at the load gate
    loadGate.close();
    await generate(4, 3);
    await settle('4 rows in the load queue', (s) => s.loadQueue === 4 && s.inStream === 0 && s.loadInFlight.messages >= 1);
    // ... in a transform call (1), read ahead of it, and unread on the stream (the rest), held at the transform gate
    transformGate.close();
    for (const seed of [4, 5, 6, 7]) await generate(300, seed);
    await stack.flushCapture();

    // Act: once the poller has stopped reading ahead
    let previous = -1;
    const s = await settle('a transform call held, records read ahead and the rest on the stream', (x) => {
      const stable = x.transformPending === previous;
      previous = x.transformPending;
      return stable && x.transformInFlight.records === 1;
    });

    // Assess
    expect(written).toBe(1218);
    expect(s).toMatchObject({ items: 1218, captured: 1218, capturePending: 0, loadQueue: 4, staged: 5, history: 13, destination: 8, quarantined: 1 });
    expect(s.transformInFlight).toEqual({ calls: 1, records: 1 });
    expect(s.onStream).toBeGreaterThan(0);
    expect(s.transformPending).toBeGreaterThan(0);
    expect(s.inStream).toBe(1200);
    expect(accounted(s)).toBe(written);
    const text = statusLines({ pipeline: s, stack: 'test', tableName: 'InsuranceClaims', warehouse: 'duckdb' }).join('\n');
    expect(text).toMatch(new RegExp(`^stream +${s.onStream} records not read by the transform yet`, 'm'));
    expect(text).toMatch(new RegExp(`^transform +${s.transformPending} records read, not done; 1 call in flight \\(1 records\\)$`, 'm'));
    expect(text).toMatch(/^load queue +4 messages/m);
    expect(text).toMatch(/^quarantined +1 messages \(claims-cdc quarantine list shows them\)$/m);
  }, 180_000);

  it('status and status --watch show it, with the freshness of the last minute and sparklines', async () => {
    // Prepare: the staged rows merged (the gates still hold the rest)
    await stack.triggerMerge();
    const out: string[] = [];
    const plain = { out: (t: string) => out.push(t), err: (t: string) => out.push(t) };
    const drawn: string[] = [];
    const terminal = { out: (t: string) => drawn.push(t), err: () => undefined, overwrite: () => undefined };
    // Act
    const json = await run(['status', '--json', '--state-dir', stateDir], plain);
    const reply = JSON.parse(out.pop() ?? '{}') as { pipeline: PipelineStatus; freshness: { p50Ms: number; p99Ms: number; events: number } | null };
    const watched = await run(['status', '--watch', '--count', '2', '--state-dir', stateDir], plain);
    await run(['status', '--watch', '--count', '2', '--state-dir', stateDir], terminal);
    // Assess
    expect(json).toBe(0);
    expect(reply.pipeline).toMatchObject({ captured: written, staged: 0, history: 13, destination: 13, quarantined: 1, loadQueue: 4 });
    expect(accounted(reply.pipeline)).toBe(written);
    expect(reply.freshness).not.toBeNull();
    expect(reply.freshness!.p99Ms).toBeGreaterThanOrEqual(reply.freshness!.p50Ms);
    expect(watched).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/^destination +13 rows$/m);
    expect(text).toMatch(/^freshness +last minute p50 [\d.]+ m?s · p99 [\d.]+ m?s/m);
    expect(text).toMatch(/^throughput +[▁▂▃▄▅▆▇█]+ [\d.]+ events\/s loaded$/m);
    expect(text).toMatch(/^lag trend +[▁▂▃▄▅▆▇█]+ [\d.]+ s$/m);
    // On a terminal the second block is drawn over the first: the cursor goes back up its lines, which are cleared.
    expect(drawn).toHaveLength(2);
    expect(drawn[1]!.startsWith(`\x1b[${drawn[0]!.split('\n').length}F\x1b[J`)).toBe(true);
  }, 60_000);
});
