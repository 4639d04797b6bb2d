/**
 * Lambda's SQS event source mapping, locally.
 *
 * Receives up to `batchSize` messages (several ReceiveMessage calls of at most 10, within the batching window),
 * invokes the handler with a real SQSEvent, deletes the messages that succeeded and leaves the failed ones in flight:
 * they come back after the queue's visibility timeout, and the queue's own RedrivePolicy moves them to the DLQ after
 * maxReceiveCount receives (fauxqs honours RedrivePolicy at receive time, like SQS). A thrown error fails the whole
 * batch; so does a batchItemFailures entry naming a message that is not in the batch.
 */
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import type { SqsMappingConfig } from './local-config';
import { createLambdaContext, describeError, pollerAbortController, sleep, type FunctionIdentity, type LambdaHandler, type PollerCounters, pollerStopAndKill, type PollerRun } from './lambda-runtime';

/** The load handler's contract. */
export type SqsHandler = LambdaHandler<SQSEvent, SQSBatchResponse | void | undefined>;

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: SqsHandler;
  function: FunctionIdentity;
  mapping: Pick<SqsMappingConfig, 'batchSize' | 'batchingWindowMs' | 'concurrency'>;
  /** Long-poll wait of an empty receive, in seconds (default 1; bounded so redelivered messages are seen soon). */
  waitTimeSeconds?: number;
}

/** Counters of the SQS poller. */
export interface SqsPollerCounters extends PollerCounters {
  /** Messages deleted after the handler succeeded for them. */
  deleted: number;
  /** Messages left for redelivery (failed items and whole failed batches). */
  leftForRedelivery: number;
  /** Handler invocations running now, and the messages they carry. */
  inFlightInvocations: number;
  inFlightMessages: number;
}

/** A running SQS poller. */
export interface SqsPoller {
  counters(): SqsPollerCounters;
  /** Finishes the invocations in flight (and their deletes), then stops. */
  stop(): Promise<void>;
  /**
   * Stops as a killed process would: nothing is deleted any more, so the messages in flight come back (fauxqs makes
   * them visible again when it restarts). Resolves when the invocations in flight have returned.
   */
  kill(): Promise<void>;
}

/** ReceiveMessage calls in flight at once while a batch fills. */
const RECEIVES_IN_PARALLEL = 8;

/** What every loop of one poller shares: its options, its stop signal, its counters and whether it was killed. */
interface Poller extends PollerRun {
  readonly options: SqsPollerOptions;
  readonly counters: SqsPollerCounters;
  /** The long poll of the first receive of a batch. */
  readonly waitSeconds: number;
}

/** Starts `mapping.concurrency` poll loops on one queue. */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const p: Poller = {
    options,
    abort: pollerAbortController(),
    counters: { invocations: 0, records: 0, failures: 0, batchItemFailures: 0, deleted: 0, leftForRedelivery: 0, inFlightInvocations: 0, inFlightMessages: 0 },
    waitSeconds: options.waitTimeSeconds ?? 1,
    killed: false,
  };
  const loops = Array.from({ length: Math.max(1, options.mapping.concurrency) }, () =>
    loop(p).catch((error: unknown) => {
      p.counters.lastError = `poller stopped: ${describeError(error)}`;
    }),
  );
  return {
    counters: () => ({ ...p.counters }),
    ...pollerStopAndKill(p, loops),
  };
}

/** One ReceiveMessage of up to `want` (at most 10) messages. */
async function receive(p: Poller, want: number, waitTimeSeconds: number): Promise<Message[]> {
  const reply = await p.options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: p.options.queueUrl,
      MaxNumberOfMessages: want,
      WaitTimeSeconds: waitTimeSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    { abortSignal: p.abort.signal },
  );
  return reply.Messages ?? [];
}

/**
 * Up to `batchSize` messages: a long poll for the first, then receives of 10, RECEIVES_IN_PARALLEL at a time (Lambda
 * polls with several in flight too), until the batch is full, the queue has nothing ready, or the window is over.
 */
async function receiveBatch(p: Poller): Promise<Message[]> {
  const { batchSize, batchingWindowMs } = p.options.mapping;
  const first = Math.min(10, batchSize);
  const messages = await receive(p, first, p.waitSeconds);
  if (messages.length === 0) return messages;
  const windowStart = Date.now();
  let full = messages.length === first;
  while (!p.abort.signal.aborted && messages.length < batchSize) {
    if (!full) {
      // The queue had fewer ready than asked for: wait within the batching window for more.
      const left = batchingWindowMs - (Date.now() - windowStart);
      if (left <= 0) break;
      await sleep(Math.min(50, left), p.abort.signal);
    }
    const missing = batchSize - messages.length;
    const wants = Array.from({ length: full ? Math.min(RECEIVES_IN_PARALLEL, Math.ceil(missing / 10)) : 1 }, (_, i) => Math.min(10, missing - 10 * i));
    const replies = await Promise.all(wants.map((want) => receive(p, want, 0)));
    for (const got of replies) messages.push(...got);
    full = replies.every((got, i) => got.length === wants[i]);
  }
  return latestReceipts(messages);
}

/** One poll loop: receive a batch, invoke the handler, delete what succeeded; until stopped. */
async function loop(p: Poller): Promise<void> {
  while (!p.abort.signal.aborted) {
    let messages: Message[];
    try {
      messages = await receiveBatch(p);
    } catch (error) {
      if (p.abort.signal.aborted) return;
      p.counters.lastError = `ReceiveMessage: ${describeError(error)}`;
      await sleep(500, p.abort.signal);
      continue;
    }
    if (messages.length === 0) continue;
    const failed = await invoke(p, messages);
    if (p.killed) return;
    const succeeded = messages.filter((m) => !failed.has(m.MessageId!));
    p.counters.leftForRedelivery += messages.length - succeeded.length;
    await deleteMessages(p, succeeded);
  }
}

/** Invokes the handler; returns the ids that failed (all of them when the batch failed as a whole). */
async function invoke(p: Poller, messages: Message[]): Promise<Set<string>> {
  const all = new Set(messages.map((m) => m.MessageId!));
  const event: SQSEvent = { Records: messages.map((m) => toLambdaRecord(p, m)) };
  p.counters.invocations += 1;
  p.counters.records += messages.length;
  let result: SQSBatchResponse | void | undefined;
  p.counters.inFlightInvocations += 1;
  p.counters.inFlightMessages += messages.length;
  try {
    result = await p.options.handler(event, createLambdaContext(p.options.function));
  } catch (error) {
    p.counters.failures += 1;
    p.counters.lastError = describeError(error);
    return all;
  } finally {
    p.counters.inFlightInvocations -= 1;
    p.counters.inFlightMessages -= messages.length;
  }
  const failures = result?.batchItemFailures ?? [];
  if (failures.length === 0) return new Set();
  p.counters.failures += 1;
  p.counters.batchItemFailures += failures.length;
  const ids = new Set(failures.map((f) => f.itemIdentifier));
  if ([...ids].some((id) => !all.has(id))) {
    p.counters.lastError = 'batchItemFailures named a message that is not in the batch; whole batch failed';
    return all;
  }
  p.counters.lastError = `${ids.size} message(s) reported failed`;
  return ids;
}

/** Deletes in batches of 10, all at once (they are independent). */
async function deleteMessages(p: Poller, messages: Message[]): Promise<void> {
  const chunks = Array.from({ length: Math.ceil(messages.length / 10) }, (_, n) => messages.slice(10 * n, 10 * n + 10));
  await Promise.all(chunks.map((chunk) => deleteChunk(p, chunk)));
}

/** Deletes up to 10 messages in one call; what is not deleted is redelivered. */
async function deleteChunk(p: Poller, chunk: Message[]): Promise<void> {
  try {
    const reply = await p.options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: p.options.queueUrl,
        Entries: chunk.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
    p.counters.deleted += reply.Successful?.length ?? 0;
    if (reply.Failed?.length) p.counters.lastError = `DeleteMessageBatch: ${reply.Failed.length} not deleted (will be redelivered)`;
  } catch (error) {
    // Not deleted means redelivered: at-least-once, which every handler tolerates.
    p.counters.lastError = `DeleteMessageBatch: ${describeError(error)}`;
  }
}

/** An SQS message as Lambda hands it to the handler. */
function toLambdaRecord(p: Poller, message: Message): SQSRecord {
  const attributes = (message.Attributes ?? {}) as unknown as SQSRecordAttributes;
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes,
    messageAttributes: toLambdaMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: p.options.queueArn,
    awsRegion: p.options.region,
  };
}

/**
 * One entry per message: a message received twice while the batch filled (its visibility timeout ran out meanwhile)
 * keeps only its latest receipt, the one a delete needs.
 */
function latestReceipts(messages: Message[]): Message[] {
  const byId = new Map<string, Message>();
  for (const message of messages) {
    byId.delete(message.MessageId!);
    byId.set(message.MessageId!, message);
  }
  return byId.size === messages.length ? messages : [...byId.values()];
}

function toLambdaMessageAttributes(attributes: Record<string, MessageAttributeValue> | undefined): SQSMessageAttributes {
  const out: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    out[name] = {
      dataType: value.DataType ?? 'String',
      stringListValues: [],
      binaryListValues: [],
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') } : {}),
    };
  }
  return out;
}
