/**
 * Stage 4, embedded end to end, on the embedded stack (local/src/stack: emulators, the DynamoDB→Kinesis capture,
 * the pollers playing Lambda's event source mappings) with the real transform, load and merge handlers:
 *
 * (a) drain: a Kinesis stream pre-filled with change records is drained into the merged destination, events/s
 *     from the moment the transform poller is let go to the moment the destination holds the final state;
 * (b) freshness: claims are written to DynamoDB at a steady rate; for each one, the delay from the write (its
 *     ApproximateCreationDateTime, stamped by the capture when DynamoDB accepted it) to the merge that made its row
 *     visible in the destination. p50/p95/p99 per rate.
 *
 * The transform and merge handlers are the real modules, imported on first call (after the stack has set the
 * environment they read at load) and wrapped only to hold the transform back while the stream fills and to look
 * at the destination after each merge.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand } from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { marshall } from '@aws-sdk/util-dynamodb';
import { type Claim, generateClaims, TABLES } from '@claims-cdc/shared';
import { changeRecord } from '@claims-cdc/shared/test-support/factories';
import type { Warehouse } from '@claims-cdc/shared/warehouse/port';
import { percentile, progress, secondsSince } from '../measure';
import type { EndToEndOptions, EndToEndResult, FreshnessPoint, ProcessCpu } from '../results';
import { claimIdFor, planChanges } from '../seed-data';

type StackModule = typeof import('../../local/src/stack');


/**
 * CPU seconds (user + system) used so far by one of the stack's child processes, from /proc (Linux; undefined
 * elsewhere, or once it has exited). Clock ticks are 100/s on Linux.
 */
const childCpuSeconds = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
};

/** Every process's CPU so far: this one (the stack's own, with the bench's writer) and each child. */
const cpuNow = (stack: { childPids(): Record<string, number | undefined> }): Record<string, number | undefined> => {
  const own = process.cpuUsage();
  const children = Object.fromEntries(Object.entries(stack.childPids()).map(([name, pid]) => [name, childCpuSeconds(pid)]));
  return { main: (own.user + own.system) / 1e6, ...children };
};

/**
 * CPU use of the stack's processes over a measured span: the seconds each used, kept in the results so the report
 * can say what bounds a figure (a process busy all the time, or the sum over both cores), not only print it.
 */
const cpuMeter = (stack: { childPids(): Record<string, number | undefined> }) => {
  const before = cpuNow(stack);
  const started = process.hrtime.bigint();
  return (events: number): { cpu: ProcessCpu; text: string } => {
    const after = cpuNow(stack);
    const seconds: Record<string, number> = {};
    for (const [name, end] of Object.entries(after)) {
      const start = before[name];
      if (start !== undefined && end !== undefined) seconds[name] = end - start;
    }
    const cpu: ProcessCpu = { wallSeconds: secondsSince(started), events, seconds };
    const perEvent = (n: number) => `${((n / events) * 1e6).toFixed(0)} µs/event`;
    return { cpu, text: `CPU: ${Object.entries(seconds).map(([name, n]) => `${name} ${n.toFixed(1)} s (${perEvent(n)})`).join(', ')}` };
  };
};

/** The machine's 1/5/15-minute load average, printed beside every figure: two cores are shared, figures are noisy. */
const load = (): string => `load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`;

/** The public API the benchmark needs from the embedded stack; what is absent is reported, not guessed. */
const loadStackModule = async (): Promise<{ stack?: StackModule; missing: string[] }> => {
  let stack: StackModule;
  try {
    stack = await import('../../local/src/stack');
  } catch (error) {
    return { missing: [`local/src/stack (index.ts) cannot be imported: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`] };
  }
  const missing = (['startStack', 'loadStackConfig', 'claimPartitionKey'] as const).filter((name) => typeof stack[name] !== 'function').map((name) => `local/src/stack does not export ${name}()`);
  return missing.length > 0 ? { missing } : { stack, missing };
};

const count = async (warehouse: Warehouse, sql: string): Promise<number> => Number((await warehouse.query(sql))[0]?.n ?? 0);

/** Runs stage 4. */
export const runEndToEnd = async (options: EndToEndOptions): Promise<EndToEndResult> => {
  const { stack: stackModule, missing } = await loadStackModule();
  if (stackModule === undefined) return { available: false, missing };

  const stateDir = join(options.dataDir, 'e2e-stack');
  await rm(stateDir, { recursive: true, force: true });
  /** Invocations and summed duration per handler (what Lambda bills), reset when the drain starts. */
  const busy = { transform: { invocations: 0, seconds: 0 }, load: { invocations: 0, seconds: 0 }, merge: { invocations: 0, seconds: 0 } };
  const account = async <T>(name: keyof typeof busy, body: () => Promise<T>): Promise<T> => {
    const start = process.hrtime.bigint();
    try {
      return await body();
    } finally {
      busy[name].invocations += 1;
      busy[name].seconds += secondsSince(start);
    }
  };

  let releaseTransform: () => void = () => undefined;
  const transformGate = new Promise<void>((resolve) => {
    releaseTransform = resolve;
  });
  /** Called after every merge with the time it finished (rows it merged are visible from then on). */
  let afterMerge: (finishedAtMs: number) => Promise<void> = async () => undefined;
  let mergeFailures = 0;

  progress('e2e: starting the embedded stack (emulators, capture, pollers, real handlers)');
  let stack: Awaited<ReturnType<StackModule['startStack']>>;
  try {
    stack = await stackModule.startStack({
      stateDir,
      mergeIntervalMs: options.mergeIntervalMs,
      writeStateFile: false,
      // Handler log lines and EMF metrics would flood the benchmark's output; Lambda writes them to CloudWatch.
      env: { POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_METRICS_DISABLED: 'true' },
      // The real handlers, as the stack runs them (the transform in its own process), wrapped to time them.
      around: {
        transform: (real) => async (event, context) => {
          await transformGate;
          return account('transform', () => real(event, context));
        },
        load: (real) => (event, context) => account('load', () => real(event, context)),
        merge: (real) => async (event, context) => {
          let result: Awaited<ReturnType<typeof real>>;
          try {
            result = await account('merge', () => real(event, context));
          } catch (error) {
            mergeFailures += 1;
            throw error;
          }
          await afterMerge(Date.now());
          return result;
        },
      },
    });
  } catch (error) {
    return { available: false, missing: [`startStack failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`] };
  }

  try {
    // The handlers' warehouse: one DuckDB instance per process, shared with the load and merge handlers.
    const { warehouseFromEnv } = await import('@claims-cdc/shared/warehouse/from-env');
    const warehouse = warehouseFromEnv();
    await warehouse.init();

    // (a) Drain.
    progress(`e2e drain: pre-filling the stream with ${options.drainEvents.toLocaleString('en-US')} change records (not measured)`);
    const { changes } = planChanges({ destinationRows: 0, events: options.drainEvents, seed: options.seed });
    const drainChanges = changes.slice(0, options.drainEvents);
    const finalState = new Map<string, boolean>();
    for (const change of drainChanges) finalState.set(change.claim.claim_id, change.eventName !== 'REMOVE');
    const expectedRows = [...finalState.values()].filter(Boolean).length;
    const entries = drainChanges.map((change, i) => {
      const payload = changeRecord({ eventName: change.eventName, claim: change.claim, micros: change.micros, eventId: `e2e-${options.seed}-${i}` }, change.oldImage);
      return { Data: Buffer.from(JSON.stringify(payload)), PartitionKey: stackModule.claimPartitionKey(stack.resources.table.name, change.claim.claim_id) };
    });
    // Four lanes in parallel, a claim always in the same lane, so each claim's changes stay in order on the stream.
    const lanes: (typeof entries)[] = [[], [], [], []];
    drainChanges.forEach((change, i) => lanes[parseInt(change.claim.claim_id.slice(-1), 16) % lanes.length]?.push(entries[i] as (typeof entries)[number]));
    await Promise.all(
      lanes.map(async (lane) => {
        for (let i = 0; i < lane.length; i += 500) {
          const response = await stack.clients.kinesis.send(new PutRecordsCommand({ StreamName: stack.resources.stream.name, Records: lane.slice(i, i + 500) }));
          if ((response.FailedRecordCount ?? 0) > 0) throw new Error(`PutRecords failed for ${response.FailedRecordCount} records while pre-filling`);
        }
      }),
    );

    let drained: (seconds: number) => void = () => undefined;
    const drainDone = new Promise<number>((resolve) => {
      drained = resolve;
    });
    for (const b of Object.values(busy)) Object.assign(b, { invocations: 0, seconds: 0 });
    const drainStart = process.hrtime.bigint();
    const drainCpu = cpuMeter(stack);
    let destinationRows = 0;
    afterMerge = async () => {
      const status = await warehouse.status();
      destinationRows = status.destination;
      if (status.staged === 0 && status.history >= drainChanges.length && status.destination === expectedRows) drained(secondsSince(drainStart));
    };
    progress('e2e drain: letting the transform poller go');
    releaseTransform();
    const drainTimeoutMs = Math.max(60_000, options.drainEvents * 5);
    const drainSeconds = await Promise.race([drainDone, sleep(drainTimeoutMs).then(() => Number.NaN)]);
    const history = await count(warehouse, `SELECT COUNT(*) AS n FROM ${TABLES.history}`);
    const drainCpuUse = drainCpu(drainChanges.length);
    progress(`e2e drain: ${drainCpuUse.text}`);
    progress(
      Number.isNaN(drainSeconds)
        ? `e2e drain: not drained after ${drainTimeoutMs / 1000} s (history ${history}, destination ${destinationRows} of ${expectedRows}; stack counters ${JSON.stringify(stack.counters())})`
        : `e2e drain: ${drainChanges.length.toLocaleString('en-US')} events in ${drainSeconds.toFixed(1)} s = ${Math.round(drainChanges.length / drainSeconds).toLocaleString('en-US')} events/s (${load()})`,
    );
    const drain = {
      events: drainChanges.length,
      seconds: drainSeconds,
      eventsPerSecond: drainChanges.length / drainSeconds,
      destinationRows,
      expectedRows,
      handlers: JSON.parse(JSON.stringify(busy)) as typeof busy,
      cpu: drainCpuUse.cpu,
    };

    // (b) Freshness at steady rates, INSERTs of new claims. Two writers: through DynamoDB (so through the capture,
    // the whole path), and straight onto the stream with records stamped at the time they are put (the capture's
    // part played by the writer), which reaches rates the DynamoDB emulator cannot accept.
    const freshness: FreshnessPoint[] = [];
    const content = generateClaims(1_000, options.seed + 1);
    let nextIndex = 0x40000000;
    const writers: Record<FreshnessPoint['path'], { batch: number; write: (items: Claim[]) => Promise<void> }> = {
      dynamodb: {
        batch: 25,
        write: async (items) => {
          const response = await stack.clients.dynamodb.send(
            new BatchWriteItemCommand({ RequestItems: { [stack.resources.table.name]: items.map((item) => ({ PutRequest: { Item: marshall(item) } })) } }),
          );
          if (Object.keys(response.UnprocessedItems ?? {}).length > 0) throw new Error('DynamoDB left items unprocessed');
        },
      },
      stream: {
        batch: 500,
        write: async (items) => {
          const micros = Date.now() * 1_000;
          const records = items.map((claim, k) => ({
            Data: Buffer.from(JSON.stringify(changeRecord({ eventName: 'INSERT', claim, micros: micros + k, eventId: `fr-${claim.claim_id}` }))),
            PartitionKey: stackModule.claimPartitionKey(stack.resources.table.name, claim.claim_id),
          }));
          const response = await stack.clients.kinesis.send(new PutRecordsCommand({ StreamName: stack.resources.stream.name, Records: records }));
          if ((response.FailedRecordCount ?? 0) > 0) throw new Error(`PutRecords failed for ${response.FailedRecordCount} records`);
        },
      },
    };
    for (const { path, rates } of [
      { path: 'dynamodb' as const, rates: options.rates },
      { path: 'stream' as const, rates: options.streamRates },
    ]) {
      const writer = writers[path];
      for (const rate of rates) {
        const total = Math.round(rate * options.secondsPerRate);
        const first = nextIndex;
        nextIndex += total + 1_000;
        const low = claimIdFor(first);
        const high = claimIdFor(first + total);
        const seen = new Set<string>();
        const delays: number[] = [];
        afterMerge = async (finishedAtMs) => {
          const rows = await warehouse.query(`SELECT claimId, eventCreationUnixTime FROM ${TABLES.destination} WHERE claimId >= '${low}' AND claimId < '${high}'`);
          for (const row of rows) {
            const id = String(row.claimId);
            if (seen.has(id)) continue;
            seen.add(id);
            delays.push(Math.max(0, finishedAtMs - Number(row.eventCreationUnixTime) / 1_000) / 1_000);
          }
        };

        progress(`e2e freshness (${path}): ${rate.toLocaleString('en-US')} writes/s for ${options.secondsPerRate} s`);
        const mergesBefore = { ...busy.merge };
        // Paced by the clock: every 20 ms, write what is due. Writes in flight are bounded: if the target cannot keep
        // up, the achieved rate drops (and is reported) instead of a queue growing inside this process.
        const start = Date.now();
        const rateCpu = cpuMeter(stack);
        let written = 0;
        const inFlight = new Set<Promise<void>>();
        while (written < total) {
          const due = Math.min(total, Math.floor(((Date.now() - start) / 1_000) * rate) + 1);
          while (written < due) {
            const n = Math.min(writer.batch, due - written);
            const items = Array.from({ length: n }, (_, k): Claim => ({ ...(content[(written + k) % content.length] as Claim), claim_id: claimIdFor(first + written + k) }));
            written += n;
            const write = writer.write(items);
            inFlight.add(write);
            void write.finally(() => inFlight.delete(write)).catch(() => undefined);
            if (inFlight.size >= 16) await Promise.race(inFlight);
          }
          await sleep(20);
        }
        await Promise.all(inFlight);
        const writeSeconds = (Date.now() - start) / 1_000;
        const deadline = Date.now() + 60_000;
        while (seen.size < total && Date.now() < deadline) await sleep(100);
        const merges = busy.merge.invocations - mergesBefore.invocations;
        const rateCpuUse = rateCpu(total);
        progress(`e2e freshness (${path}) @ ${rate}/s: ${rateCpuUse.text} (writer included)`);
        const point: FreshnessPoint = {
          path,
          merges,
          meanMergeSeconds: merges > 0 ? (busy.merge.seconds - mergesBefore.seconds) / merges : Number.NaN,
          rate,
          writes: total,
          achievedRate: total / writeSeconds,
          samples: delays.length,
          p50: percentile(delays, 50),
          p95: percentile(delays, 95),
          p99: percentile(delays, 99),
          max: percentile(delays, 100),
          cpu: rateCpuUse.cpu,
        };
        freshness.push(point);
        progress(
          `e2e freshness (${path}) @ ${rate}/s (achieved ${Math.round(point.achievedRate)}/s): p50 ${point.p50?.toFixed(2)} s, p95 ${point.p95?.toFixed(2)} s, p99 ${point.p99?.toFixed(2)} s, ${point.samples}/${total} rows seen, ${merges} merges of ${point.meanMergeSeconds.toFixed(2)} s on average (${load()})`,
        );
      }
    }
    afterMerge = async () => undefined;
    if (mergeFailures > 0) progress(`e2e: ${mergeFailures} merge invocations failed`);
    return { available: true, missing: [], drain, freshness };
  } finally {
    await stack.stop();
    const { warehouseFromEnv } = await import('@claims-cdc/shared/warehouse/from-env');
    await warehouseFromEnv().close();
  }
};
