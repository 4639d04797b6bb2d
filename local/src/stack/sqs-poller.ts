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
import { createLambdaContext, describeError, sleep, type FunctionIdentity, type LambdaHandler, type PollerCounters } from './lambda-runtime';

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

/** Starts `mapping.concurrency` poll loops on one queue. */
export function startSqsPoller(options: SqsPollerOptions): SqsPoller {
  const abort = new AbortController();
  let killed = false;
  const counters: SqsPollerCounters = { invocations: 0, records: 0, failures: 0, batchItemFailures: 0, deleted: 0, leftForRedelivery: 0, inFlightInvocations: 0, inFlightMessages: 0 };
  const waitSeconds = options.waitTimeSeconds ?? 1;

  /** One ReceiveMessage of up to `want` (at most 10) messages. */
  async function receive(want: number, waitTimeSeconds: number): Promise<Message[]> {
    const reply = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: want,
        WaitTimeSeconds: waitTimeSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: abort.signal },
    );
    return reply.Messages ?? [];
  }

  /**
   * Up to `batchSize` messages: a long poll for the first, then receives of 10, RECEIVES_IN_PARALLEL at a time (Lambda
   * polls with several in flight too), until the batch is full, the queue has nothing ready, or the window is over.
   */
  async function receiveBatch(): Promise<Message[]> {
    const { batchSize, batchingWindowMs } = options.mapping;
    const first = Math.min(10, batchSize);
    const messages = await receive(first, waitSeconds);
    if (messages.length === 0) return messages;
    const windowStart = Date.now();
    let full = messages.length === first;
    while (!abort.signal.aborted && messages.length < batchSize) {
      if (!full) {
        // The queue had fewer ready than asked for: wait within the batching window for more.
        const left = batchingWindowMs - (Date.now() - windowStart);
        if (left <= 0) break;
        await sleep(Math.min(50, left), abort.signal);
      }
      const missing = batchSize - messages.length;
      const wants = Array.from({ length: full ? Math.min(RECEIVES_IN_PARALLEL, Math.ceil(missing / 10)) : 1 }, (_, i) => Math.min(10, missing - 10 * i));
      const replies = await Promise.all(wants.map((want) => receive(want, 0)));
      for (const got of replies) messages.push(...got);
      full = replies.every((got, i) => got.length === wants[i]);
    }
    return latestReceipts(messages);
  }

  async function loop(): Promise<void> {
    while (!abort.signal.aborted) {
      let messages: Message[];
      try {
        messages = await receiveBatch();
      } catch (error) {
        if (abort.signal.aborted) return;
        counters.lastError = `ReceiveMessage: ${describeError(error)}`;
        await sleep(500, abort.signal);
        continue;
      }
      if (messages.length === 0) continue;
      const failed = await invoke(messages);
      if (killed) return;
      const succeeded = messages.filter((m) => !failed.has(m.MessageId!));
      counters.leftForRedelivery += messages.length - succeeded.length;
      await deleteMessages(succeeded);
    }
  }

  /** Invokes the handler; returns the ids that failed (all of them when the batch failed as a whole). */
  async function invoke(messages: Message[]): Promise<Set<string>> {
    const all = new Set(messages.map((m) => m.MessageId!));
    const event: SQSEvent = { Records: messages.map(toLambdaRecord) };
    counters.invocations += 1;
    counters.records += messages.length;
    let result: SQSBatchResponse | void | undefined;
    counters.inFlightInvocations += 1;
    counters.inFlightMessages += messages.length;
    try {
      result = await options.handler(event, createLambdaContext(options.function));
    } catch (error) {
      counters.failures += 1;
      counters.lastError = describeError(error);
      return all;
    } finally {
      counters.inFlightInvocations -= 1;
      counters.inFlightMessages -= messages.length;
    }
    const failures = result?.batchItemFailures ?? [];
    if (failures.length === 0) return new Set();
    counters.failures += 1;
    counters.batchItemFailures += failures.length;
    const ids = new Set(failures.map((f) => f.itemIdentifier));
    if ([...ids].some((id) => !all.has(id))) {
      counters.lastError = 'batchItemFailures named a message that is not in the batch; whole batch failed';
      return all;
    }
    counters.lastError = `${ids.size} message(s) reported failed`;
    return ids;
  }

  /** Deletes in batches of 10, all at once (they are independent). */
  async function deleteMessages(messages: Message[]): Promise<void> {
    const chunks = Array.from({ length: Math.ceil(messages.length / 10) }, (_, n) => messages.slice(10 * n, 10 * n + 10));
    await Promise.all(chunks.map(deleteChunk));
  }

  async function deleteChunk(chunk: Message[]): Promise<void> {
    try {
      const reply = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((m, n) => ({ Id: String(n), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
      counters.deleted += reply.Successful?.length ?? 0;
      if (reply.Failed?.length) counters.lastError = `DeleteMessageBatch: ${reply.Failed.length} not deleted (will be redelivered)`;
    } catch (error) {
      // Not deleted means redelivered: at-least-once, which every handler tolerates.
      counters.lastError = `DeleteMessageBatch: ${describeError(error)}`;
    }
  }

  function toLambdaRecord(message: Message): SQSRecord {
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
      eventSourceARN: options.queueArn,
      awsRegion: options.region,
    };
  }

  const loops = Array.from({ length: Math.max(1, options.mapping.concurrency) }, () =>
    loop().catch((error: unknown) => {
      counters.lastError = `poller stopped: ${describeError(error)}`;
    }),
  );

  return {
    counters: () => ({ ...counters }),
    async stop() {
      abort.abort();
      await Promise.all(loops);
    },
    async kill() {
      killed = true;
      abort.abort();
      await Promise.all(loops);
    },
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
