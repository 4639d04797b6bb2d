/**
 * Drains the quarantine queue into the {@link QuarantineStore}: receive, append to the file, then delete. A message
 * is deleted only after its line is on disk, so a crash in between writes it twice (the store's fold dedupes) and
 * never loses it. A message that is not in the quarantine format is kept as an `unreadable` entry, not dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { QuarantineMessageSchema } from '@claims-cdc/shared';
import type { QuarantineStore, StoreLine } from './store';

export interface QuarantineDrainerOptions {
  sqs: SQSClient;
  queueUrl: string;
  store: QuarantineStore;
  /** Long-poll wait of an empty receive, in seconds (default 1). */
  waitTimeSeconds?: number;
}

/** Counters of the drainer (no contents). */
export interface QuarantineDrainerCounters {
  /** Messages written to the store and deleted from the queue. */
  drained: number;
  /** Of those, messages not in the quarantine format. */
  unreadable: number;
  lastError?: string;
}

/** A running drainer. */
export interface QuarantineDrainer {
  counters(): QuarantineDrainerCounters;
  /** Finishes the receive/write/delete in progress, then stops. */
  stop(): Promise<void>;
}

/** Starts one drain loop. */
export function startQuarantineDrainer(options: QuarantineDrainerOptions): QuarantineDrainer {
  const abort = new AbortController();
  const counters: QuarantineDrainerCounters = { drained: 0, unreadable: 0 };

  const toLine = (message: Message, receivedAt: string): StoreLine => {
    const body = message.Body ?? '';
    try {
      const parsed = QuarantineMessageSchema.safeParse(JSON.parse(body));
      if (parsed.success) return { type: 'part', receivedAt, message: parsed.data };
    } catch {
      // Not JSON: kept below as unreadable.
    }
    counters.unreadable += 1;
    return { type: 'unreadable', receivedAt, messageId: message.MessageId ?? '', body };
  };

  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        const reply = await options.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: options.waitTimeSeconds ?? 1 }),
          { abortSignal: abort.signal },
        );
        const messages = reply.Messages ?? [];
        if (messages.length === 0) continue;
        const receivedAt = new Date().toISOString();
        options.store.append(messages.map((m) => toLine(m, receivedAt)));
        const deleted = await options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        counters.drained += deleted.Successful?.length ?? 0;
        // Not deleted means received again later and written again: the store's fold keeps one copy.
        if (deleted.Failed?.length) counters.lastError = `DeleteMessageBatch: ${deleted.Failed.length} not deleted`;
      } catch (error) {
        if (abort.signal.aborted) return;
        counters.lastError = error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : 'non-Error thrown';
        await sleep(500);
      }
    }
  })();

  return {
    counters: () => ({ ...counters }),
    async stop() {
      abort.abort();
      await loop;
    },
  };
}
