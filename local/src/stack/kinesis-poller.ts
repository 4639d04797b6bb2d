/**
 * Lambda's Kinesis event source mapping, locally: one loop per shard, records in order, a checkpoint per shard.
 *
 * - Success: checkpoint after the batch's last record.
 * - Partial failure (`batchItemFailures`): records before the lowest failed sequence number are checkpointed and
 *   the next batch starts at that record. An item identifier that is missing or not in the batch fails the whole
 *   batch, as on Lambda.
 * - Thrown error: with bisectBatchOnFunctionError the batch is split in half and retried (splits consume no retry);
 *   a one-record batch (or any batch without bisect) is retried up to maxRetryAttempts times, then its metadata goes
 *   to the on-failure queue (Lambda's OnFailure destination format) and the shard moves on past it.
 * - Resharding is not followed; a closed shard's loop ends.
 * - With a checkpoint store, each checkpoint is also written there, and a new poller starts after the stored one
 *   (a process killed between a batch and its checkpoint re-processes that batch: at-least-once, as on Lambda).
 */
import { ExpiredIteratorException, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { sdkGetRecords, type GetRecords, type StreamRecord } from './kinesis-get-records';
import type { KinesisMappingConfig } from './local-config';
import type { CheckpointStore } from './persistence';
import { createLambdaContext, describeError, pollerAbortController, sleep, type FunctionIdentity, type LambdaHandler, type PollerCounters, pollerStopAndKill, type PollerRun } from './lambda-runtime';

/** The transform handler's contract. */
export type KinesisHandler = LambdaHandler<KinesisStreamEvent, KinesisStreamBatchResponse | void | undefined>;

export interface KinesisPollerOptions {
  kinesis: KinesisClient;
  /** Needed when `onFailureQueueUrl` is set. */
  sqs?: SQSClient;
  streamName: string;
  streamArn: string;
  shardIds: string[];
  region: string;
  handler: KinesisHandler;
  function: FunctionIdentity;
  /** Role ARN reported as invokeIdentityArn. */
  roleArn: string;
  mapping: Pick<
    KinesisMappingConfig,
    'batchSize' | 'batchingWindowMs' | 'startingPosition' | 'maxRetryAttempts' | 'bisectBatchOnFunctionError' | 'idlePollMs'
  >;
  /** Where exhausted batches' metadata goes; without it they are counted and skipped. */
  onFailureQueueUrl?: string;
  /** Where checkpoints are kept across runs; without it every poller starts at `mapping.startingPosition`. */
  checkpoints?: CheckpointStore;
  /** How shards are read (default: GetRecords through `kinesis`; the stack's own kinesalite is read as JSON). */
  getRecords?: GetRecords;
}

/** Counters of the Kinesis poller. */
export interface KinesisPollerCounters extends PollerCounters {
  /** Batches given up on after their retries (metadata sent to the on-failure queue). */
  discardedBatches: number;
  /** Records in those batches. */
  discardedRecords: number;
  /** Records fetched but not yet checkpointed, over all shards. */
  pendingRecords: number;
  /** Records read from the stream since the poller started (each once: retries reuse what was fetched). */
  fetchedRecords: number;
  /** Handler invocations running now, and the records they carry. */
  inFlightInvocations: number;
  inFlightRecords: number;
  /**
   * Per shard: last checkpointed sequence number, MillisBehindLatest of the last read, and when the oldest record
   * fetched and not checkpointed arrived on the stream (ms since the epoch; kinesalite always reports 0 behind).
   */
  shards: Record<string, { checkpoint?: string; millisBehindLatest?: number; oldestPendingArrivalMs?: number }>;
}

/** A running Kinesis poller. */
export interface KinesisPoller {
  counters(): KinesisPollerCounters;
  /** Finishes the invocation in flight (and its checkpoint), then stops every shard loop. */
  stop(): Promise<void>;
  /**
   * Stops as a killed process would: from now on nothing is checkpointed or sent to the on-failure queue, and the
   * outcome of the invocation in flight is thrown away (its records are delivered again after a restart). Resolves
   * when that invocation has returned, so nothing of it reaches a later stack.
   */
  kill(): Promise<void>;
}

/** Lambda's on-failure destination record for a Kinesis batch. */
export interface KinesisOnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  version: '1.0';
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

/** GetRecords' own limit per call. */
const GET_RECORDS_MAX = 10_000;
/** How far reading runs ahead of the handler: this many batches, and at least READ_AHEAD_MIN records. */
const READ_AHEAD_BATCHES = 4;
const READ_AHEAD_MIN = 1_000;

type Outcome = { kind: 'success' } | { kind: 'partial'; firstFailed: number; failed: number } | { kind: 'error'; message: string };

/** What every part of one poller shares: its options, its stop signal, its counters and whether it was killed. */
interface Poller extends PollerRun {
  readonly options: KinesisPollerOptions;
  readonly counters: ReturnType<typeof newCounters>;
  readonly getRecords: GetRecords;
}

const newCounters = () => ({
  invocations: 0,
  records: 0,
  failures: 0,
  batchItemFailures: 0,
  discardedBatches: 0,
  discardedRecords: 0,
  fetchedRecords: 0,
  inFlightInvocations: 0,
  inFlightRecords: 0,
  lastError: undefined as string | undefined,
});

/** Starts one loop per shard. */
export function startKinesisPoller(options: KinesisPollerOptions): KinesisPoller {
  const p: Poller = { options, abort: pollerAbortController(), counters: newCounters(), killed: false, getRecords: options.getRecords ?? sdkGetRecords(options.kinesis) };
  const shardStates = new Map<string, ShardState>();
  const loops = options.shardIds.map((shardId) => {
    const stored = options.checkpoints?.get(shardId);
    const state: ShardState = { shardId, pending: [], ...(stored ? { checkpoint: stored, lastFetched: stored } : {}) };
    shardStates.set(shardId, state);
    return runShard(p, shardId, state).catch((error: unknown) => {
      p.counters.lastError = `shard ${shardId} stopped: ${describeError(error)}`;
    });
  });
  const { stop, kill } = pollerStopAndKill(p, loops);
  return {
    counters: () => pollerCounters(p, shardStates),
    async stop() {
      await stop();
      options.checkpoints?.flush();
    },
    async kill() {
      // First: a checkpoint the store still holds back is one a killed process never wrote.
      options.checkpoints?.discard();
      await kill();
    },
  };
}

/** The counters and each shard's position, as `KinesisPoller.counters` reports them. */
function pollerCounters(p: Poller, shardStates: ReadonlyMap<string, ShardState>): KinesisPollerCounters {
  const shards: KinesisPollerCounters['shards'] = {};
  let pendingRecords = 0;
  for (const [shardId, state] of shardStates) {
    shards[shardId] = {
      checkpoint: state.checkpoint,
      millisBehindLatest: state.millisBehindLatest,
      oldestPendingArrivalMs: state.pending[0]?.arrivalMs,
    };
    pendingRecords += state.pending.length;
  }
  return { ...p.counters, pendingRecords, shards };
}

/** One shard's loop, as Lambda's event source mapping runs it: batch, window, retries, bisect, on-failure destination. */
async function runShard(p: Poller, shardId: string, state: ShardState): Promise<void> {
  const { mapping } = p.options;
  const reader = shardReader(p, shardId, state, await getIterator(p, shardId, state));
  let attempts = 0;
  // After a bisect, batches stay at the split size until every record of the batch that failed is done.
  let limit = mapping.batchSize;
  let splitRemaining = 0;
  let readSince: number | undefined;
  const consumed = (count: number) => {
    checkpoint(p, state, count);
    splitRemaining = Math.max(0, splitRemaining - count);
    if (splitRemaining === 0) limit = mapping.batchSize;
  };

  try {
    while (!p.abort.signal.aborted) {
      // Reading runs ahead of the handler: the next records arrive while this batch is being processed.
      reader.readAhead();
      if (state.pending.length < mapping.batchSize && reader.reading) await reader.reading;
      if (p.abort.signal.aborted) break;
      if (state.pending.length === 0) {
        readSince = undefined;
        if (reader.closed) return; // Shard closed and fully processed.
        await sleep(mapping.idlePollMs, p.abort.signal);
        continue;
      }
      readSince ??= Date.now();
      const windowOpen = Date.now() - readSince < mapping.batchingWindowMs;
      if (state.pending.length < mapping.batchSize && windowOpen && !reader.closed) {
        await sleep(Math.min(mapping.idlePollMs, mapping.batchingWindowMs), p.abort.signal);
        continue;
      }

      const batch = state.pending.slice(0, Math.min(limit, splitRemaining || mapping.batchSize));
      reader.readAhead();
      const outcome = await invoke(p, shardId, batch);
      if (p.killed) return; // Dead: the outcome is lost with the process.
      if (outcome.kind === 'success') {
        consumed(batch.length);
        attempts = 0;
        readSince = undefined;
        continue;
      }
      p.counters.failures += 1;
      if (outcome.kind === 'partial' && outcome.firstFailed > 0) {
        // Everything before the lowest failed record is done; the failed record has used its first attempt.
        consumed(outcome.firstFailed);
        attempts = 1;
        continue;
      }
      if (outcome.kind === 'error' && mapping.bisectBatchOnFunctionError && batch.length > 1) {
        if (splitRemaining === 0) splitRemaining = batch.length;
        limit = Math.ceil(batch.length / 2);
        continue;
      }
      attempts += 1;
      if (attempts > mapping.maxRetryAttempts) {
        const sent = await sendToOnFailure(p, shardId, batch, attempts, outcome);
        if (!sent) continue; // Not checkpointed: retried after the destination recovers.
        consumed(batch.length);
        p.counters.discardedBatches += 1;
        p.counters.discardedRecords += batch.length;
        attempts = 0;
      }
    }
  } finally {
    // Nothing of this shard acts after stop or kill resolves.
    await reader.reading;
  }
}

/**
 * Reads a shard into `state.pending`, one GetRecords at a time, ahead of the handler: up to READ_AHEAD_BATCHES
 * batches (at least READ_AHEAD_MIN records) are buffered, in sequence order. A read never rejects: a failure is
 * counted and waited out, an expired iterator is renewed after the last record fetched.
 */
function shardReader(p: Poller, shardId: string, state: ShardState, first: string | undefined) {
  const { mapping } = p.options;
  const capacity = Math.min(GET_RECORDS_MAX, Math.max(mapping.batchSize * READ_AHEAD_BATCHES, READ_AHEAD_MIN));
  let iterator = first;
  const reader = {
    reading: undefined as Promise<void> | undefined,
    /** True once the shard is closed and every record of it has been fetched. */
    get closed(): boolean {
      return iterator === undefined && reader.reading === undefined;
    },
    readAhead(): void {
      if (reader.reading || !iterator || p.abort.signal.aborted || state.pending.length >= capacity) return;
      reader.reading = read(capacity - state.pending.length).finally(() => (reader.reading = undefined));
    },
  };
  async function read(limit: number): Promise<void> {
    try {
      const reply = await p.getRecords(iterator as string, limit, p.abort.signal);
      iterator = reply.nextShardIterator;
      state.millisBehindLatest = reply.millisBehindLatest;
      p.counters.fetchedRecords += reply.records.length;
      for (const record of reply.records) {
        state.pending.push(record);
        state.lastFetched = record.sequenceNumber;
      }
    } catch (error) {
      if (p.abort.signal.aborted) return;
      if (error instanceof ExpiredIteratorException) {
        iterator = await getIterator(p, shardId, state).catch(() => iterator);
        return;
      }
      p.counters.lastError = `GetRecords ${shardId}: ${describeError(error)}`;
      await sleep(mapping.idlePollMs * 5, p.abort.signal);
    }
  }
  return reader;
}

/** An iterator after the last record fetched, or at the mapping's starting position. */
async function getIterator(p: Poller, shardId: string, state: ShardState): Promise<string | undefined> {
  const after = state.lastFetched;
  const reply = await p.options.kinesis.send(
    new GetShardIteratorCommand({
      StreamName: p.options.streamName,
      ShardId: shardId,
      ...(after
        ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: after }
        : { ShardIteratorType: p.options.mapping.startingPosition }),
    }),
  );
  return reply.ShardIterator;
}

/** Drops the first `count` pending records as done and writes the checkpoint (when the stack persists). */
function checkpoint(p: Poller, state: ShardState, count: number): void {
  const done = state.pending.splice(0, count);
  state.checkpoint = done[done.length - 1]?.sequenceNumber ?? state.checkpoint;
  if (!state.checkpoint || !p.options.checkpoints) return;
  try {
    p.options.checkpoints.set(state.shardId, state.checkpoint);
  } catch (error) {
    // Only a later run is affected: it starts at the last checkpoint written and re-processes (at-least-once).
    p.counters.lastError = `checkpoint ${state.shardId}: ${describeError(error)}`;
  }
}

/** Invokes the handler on a batch; what became of it (success, the lowest failed record, or a whole-batch error). */
async function invoke(p: Poller, shardId: string, batch: StreamRecord[]): Promise<Outcome> {
  const event: KinesisStreamEvent = { Records: batch.map((r) => toLambdaRecord(p, shardId, r)) };
  p.counters.invocations += 1;
  p.counters.records += batch.length;
  let result: KinesisStreamBatchResponse | void | undefined;
  p.counters.inFlightInvocations += 1;
  p.counters.inFlightRecords += batch.length;
  try {
    result = await p.options.handler(event, createLambdaContext(p.options.function));
  } catch (error) {
    p.counters.lastError = describeError(error);
    return { kind: 'error', message: p.counters.lastError };
  } finally {
    p.counters.inFlightInvocations -= 1;
    p.counters.inFlightRecords -= batch.length;
  }
  const failures = result?.batchItemFailures ?? [];
  if (failures.length === 0) return { kind: 'success' };
  p.counters.batchItemFailures += failures.length;
  const positions = failures.map((f) => batch.findIndex((r) => r.sequenceNumber === f.itemIdentifier));
  if (positions.some((p) => p < 0)) {
    p.counters.lastError = 'batchItemFailures named an item that is not in the batch; whole batch failed';
    return { kind: 'error', message: p.counters.lastError };
  }
  p.counters.lastError = `${failures.length} record(s) reported failed`;
  return { kind: 'partial', firstFailed: Math.min(...positions), failed: failures.length };
}

/** A Kinesis record as Lambda hands it to the handler. */
function toLambdaRecord(p: Poller, shardId: string, record: StreamRecord): KinesisStreamRecord {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: record.dataBase64,
      approximateArrivalTimestamp: record.arrivalMs / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${record.sequenceNumber}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: p.options.roleArn,
    awsRegion: p.options.region,
    eventSourceARN: p.options.streamArn,
  };
}

/** Sends the batch's on-failure record, as Lambda does once retries are exhausted; false when it could not be sent. */
async function sendToOnFailure(p: Poller, shardId: string, batch: StreamRecord[], attempts: number, outcome: Outcome): Promise<boolean> {
  if (p.killed) return false;
  if (!p.options.onFailureQueueUrl || !p.options.sqs) return true;
  const first = batch[0]!;
  const last = batch[batch.length - 1]!;
  const message: KinesisOnFailureRecord = {
    requestContext: {
      requestId: createLambdaContext(p.options.function).awsRequestId,
      functionArn: p.options.function.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: attempts,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: outcome.kind === 'error' ? 'Unhandled' : 'PartialBatchFailure' },
    version: '1.0',
    timestamp: new Date().toISOString(),
    KinesisBatchInfo: {
      shardId,
      startSequenceNumber: first.sequenceNumber,
      endSequenceNumber: last.sequenceNumber,
      approximateArrivalOfFirstRecord: new Date(first.arrivalMs).toISOString(),
      approximateArrivalOfLastRecord: new Date(last.arrivalMs).toISOString(),
      batchSize: batch.length,
      streamArn: p.options.streamArn,
    },
  };
  try {
    await p.options.sqs.send(new SendMessageCommand({ QueueUrl: p.options.onFailureQueueUrl, MessageBody: JSON.stringify(message) }));
    return true;
  } catch (error) {
    p.counters.lastError = `on-failure destination: ${describeError(error)}`;
    await sleep(p.options.mapping.idlePollMs * 5, p.abort.signal);
    return false;
  }
}

interface ShardState {
  shardId: string;
  /** Fetched, not yet checkpointed, in sequence order. */
  pending: StreamRecord[];
  checkpoint?: string;
  lastFetched?: string;
  millisBehindLatest?: number;
}
