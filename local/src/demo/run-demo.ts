/**
 * `npm start`: the quickstart played on the embedded stack. Claims go in through the HTTP API (the ingest handler),
 * the demo waits — bounded, with live progress — for each change to reach the destination, runs the quickstart's
 * verification queries verbatim and checks their results, then compares DynamoDB with the destination row by row.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { CLAIM_ID_PATTERN, TABLES } from '@claims-cdc/shared';
import type { ResultRow, Warehouse } from '@claims-cdc/shared/warehouse/port';
import { CommandError } from '../console/errors';
import { HANDLER_LOG, handlerLogging } from '../console/handler-logs';
import type { Io } from '../console/io';
import { fittedTable } from '../console/output';
import { callApi } from '../console/stack-call';
import { displayPath, stateDirFlag } from '../console/state-dir';
import { registerCliControls } from '../inspect/stack-controls';
import type { PipelineStatus } from '../inspect/pipeline-status';
import { stackWarehouse } from '../inspect/stack-warehouse';
import { verifyStack } from '../inspect/verify';
import { describeVerify } from '../inspect/verify-format';
import type { RunningStack } from '../stack/start-stack';
import { readStackInfo } from '../stack/stack-client';
import { type DemoFacts, QUICKSTART_QUERIES, type QuickstartQuery } from './quickstart-queries';
import { DemoTimeoutError, seconds, waitFor } from './wait-for';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  stateDir: string;
  /** Generator seed: the same seed plays the same claims. */
  seed: number;
  /** Bound of every wait. */
  timeoutMs: number;
  /** Width the result tables must fit. */
  width: number;
  verbose?: boolean;
  logFile?: string;
}

/** Claims the quickstart ingests. */
export const DEMO_CLAIMS = 20;
/** The default seed (its 20 claims include `In Review` ones, as the quickstart needs). */
export const DEMO_SEED = 2025;

/** Files a stack leaves in its state directory: removed before the demo, so it starts from nothing. */
const STATE_FILES = ['stack.json', 'warehouse.duckdb', 'warehouse.duckdb.wal', HANDLER_LOG];

interface CheckRecord {
  ok: boolean;
  text: string;
}


/** Runs the demo; resolves with the exit code (0 only when every check held). */
export async function runDemo(options: DemoOptions, io: Io): Promise<number> {
  const started = Date.now();
  const { stateDir } = options;
  const running = existsSync(stateDir) ? readStackInfo(stateDir) : undefined;
  if (running) throw new CommandError(`a stack is running in ${stateDir} (pid ${running.pid}); stop it first or give the demo another --state-dir`);
  mkdirSync(stateDir, { recursive: true });
  for (const file of STATE_FILES) rmSync(path.join(stateDir, file), { force: true });

  io.out('claims-cdc demo: the quickstart "Streamlining Healthcare Claims CDC using DynamoDB and Openflow" on this machine');
  io.out('DynamoDB → Kinesis → transform λ → SQS → load λ → staging + history → merge λ → destination (DuckDB standing in for Snowflake)');
  io.out('');

  const logs = handlerLogging({ stateDir, ...(options.verbose ? { verbose: true } : {}), ...(options.logFile ? { logFile: options.logFile } : {}) });
  const { startStack, StackStartError } = await import('../stack/start-stack');
  let stack: RunningStack;
  try {
    // The demo's checks count what it wrote: it starts empty, whatever an earlier demo left.
    stack = await startStack({ stateDir, env: logs.env, fresh: true });
  } catch (error) {
    await logs.close();
    if (error instanceof StackStartError) throw new CommandError(error.message);
    throw error;
  }
  const warehouse = stackWarehouse();
  const checks: CheckRecord[] = [];
  const onSignal = () => {
    io.err('interrupted: stopping the stack');
    void stack
      .stop()
      .then(() => warehouse.close())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await warehouse.init();
    registerCliControls(stack, warehouse, new Date());
    io.out(`Embedded stack ready in ${seconds(Date.now() - started)} (state ${displayPath(stateDir)}; ${logs.description})`);
    io.out(`  while it runs, from another terminal: npx claims-cdc status${stateDirFlag(stateDir)}`);
    await play(stack, warehouse, options, io, checks);
  } catch (error) {
    if (!(error instanceof DemoTimeoutError)) throw error;
    record(io, checks, false, error.message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stack.stop();
    await warehouse.close();
    await logs.close();
  }

  io.out('');
  const failed = checks.filter((c) => !c.ok);
  if (failed.length === 0) {
    io.out(`All ${checks.length} checks hold ✓  (${seconds(Date.now() - started)}; stack stopped)`);
    return 0;
  }
  io.out(`${failed.length} of ${checks.length} checks did not hold (${seconds(Date.now() - started)}; stack stopped):`);
  for (const check of failed) io.out(`  ${check.text}`);
  return 1;
}

function record(io: Io, checks: CheckRecord[], ok: boolean, text: string): void {
  const line = `${ok ? '✓' : '✗'} ${text}`;
  checks.push({ ok, text: line });
  io.out(line);
}

async function play(stack: RunningStack, warehouse: Warehouse, options: DemoOptions, io: Io, checks: CheckRecord[]): Promise<void> {
  const api = { apiUrl: stack.endpoints.api, token: stack.token };
  const wait = (what: string, done: (status: PipelineStatus) => boolean | Promise<boolean>) => waitFor(stack, warehouse, io, options.timeoutMs, what, done);

  section(io, `1. Ingest ${DEMO_CLAIMS} claims into DynamoDB   (quickstart: python3 ingest_med_claims.py ${DEMO_CLAIMS})`);
  const body = { count: DEMO_CLAIMS, seed: options.seed };
  const created = await callApi<{ claimIds: string[] }>(api, 'POST', '/claims/samples', body);
  const claimIds = created.body.claimIds;
  io.out(`POST /claims/samples ${JSON.stringify(body)} → ${created.status}: ${claimIds.length} claims (${claimIds.slice(0, 3).join(', ')}, …)`);
  await wait(`the destination to hold ${DEMO_CLAIMS} rows`, (s) => s.destination === DEMO_CLAIMS && s.staged === 0 && s.history >= DEMO_CLAIMS);
  const facts: { claimIds: readonly string[]; target: string } = { claimIds, target: '' };
  await runQueries(warehouse, 'insert', facts, options, io, checks);

  section(io, '2. Modify a claim: In Review → Rejected   (quickstart: edit the item in the DynamoDB console)');
  const target = await pickInReview(stack, claimIds);
  if (!target) {
    record(io, checks, false, `one of the ${DEMO_CLAIMS} claims is In Review (none is with seed ${options.seed}; try another --seed)`);
    return;
  }
  facts.target = target;
  const change = { claimStatus: 'Rejected' };
  const patched = await callApi(api, 'PATCH', `/claims/${target}`, change);
  io.out(`PATCH /claims/${target} ${JSON.stringify(change)} → ${patched.status}`);
  await wait(`${target} to be Rejected in the destination`, async (s) => s.staged === 0 && (await statusOf(warehouse, target)) === 'Rejected');
  await runQueries(warehouse, 'modify', facts, options, io, checks);

  section(io, `3. Delete claim ${target}   (quickstart: Actions → Delete items in the DynamoDB console)`);
  const deleted = await callApi(api, 'DELETE', `/claims/${target}`);
  io.out(`DELETE /claims/${target} → ${deleted.status}`);
  await wait(`${target} to leave the destination`, async (s) => s.staged === 0 && s.destination === DEMO_CLAIMS - 1 && (await statusOf(warehouse, target)) === undefined);
  await runQueries(warehouse, 'delete', facts, options, io, checks);

  section(io, '4. DynamoDB vs the destination, row by row   (claims-cdc verify)');
  const result = await verifyStack(stack, warehouse, options.timeoutMs);
  const [first, ...rest] = describeVerify(result);
  record(io, checks, result.ok && result.settled, (first ?? '').replace(/^[✓✗] /, ''));
  for (const line of rest) io.out(line);
}

function section(io: Io, title: string): void {
  io.out('');
  io.out(`── ${title} ${'─'.repeat(Math.max(3, 100 - title.length))}`);
}

async function runQueries(warehouse: Warehouse, step: QuickstartQuery['step'], facts: DemoFacts, options: DemoOptions, io: Io, checks: CheckRecord[]): Promise<void> {
  for (const query of QUICKSTART_QUERIES.filter((q) => q.step === step)) {
    io.out('');
    io.out(query.sql);
    let rows: ResultRow[];
    try {
      rows = await warehouse.query(query.sql);
    } catch (error) {
      record(io, checks, false, `the query ran (it failed: ${(error as Error).message.split('\n')[0]})`);
      continue;
    }
    io.out(fittedTable(rows, { width: options.width }));
    const outcome = query.check(rows, facts);
    record(io, checks, outcome.ok, outcome.ok ? outcome.expected : `expected ${outcome.expected}; got ${outcome.got ?? 'something else'}`);
  }
}

/** The first (by id) of the given claims whose status in DynamoDB is `In Review`, as the quickstart picks one. */
async function pickInReview(stack: RunningStack, claimIds: readonly string[]): Promise<string | undefined> {
  const ids = new Set(claimIds);
  const found: string[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await stack.clients.dynamodb.send(
      new ScanCommand({
        TableName: stack.resources.table.name,
        ProjectionExpression: 'claim_id',
        FilterExpression: 'claim_status = :s',
        ExpressionAttributeValues: { ':s': { S: 'In Review' } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) if (item.claim_id?.S && ids.has(item.claim_id.S)) found.push(item.claim_id.S);
    start = page.LastEvaluatedKey;
  } while (start);
  return found.sort()[0];
}

/** The claim's status in the destination, or undefined when it has no row. */
async function statusOf(warehouse: Warehouse, claimId: string): Promise<string | undefined> {
  if (!CLAIM_ID_PATTERN.test(claimId)) throw new Error('not a claim id');
  const rows = await warehouse.query(`SELECT claimStatus FROM ${TABLES.destination} WHERE claimId = '${claimId}'`);
  return rows[0] ? String(rows[0].claimStatus) : undefined;
}
