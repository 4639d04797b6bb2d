import { setTimeout as sleep } from 'node:timers/promises';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_MESSAGE_BYTES } from '../domain/row-message';

/** A message body could not be sent after every retry. Carries no body content (PHI). */
export class SendFailedError extends Error {
  override readonly name = 'SendFailedError';
}

/** Sends bodies to a queue; returns, by body index, the errors of the bodies it could not send. */
export type SendBodies = (queueUrl: string, bodies: readonly string[]) => Promise<Map<number, Error>>;

/**
 * THE retry policy for SQS sends, one layer each, never stacked:
 * - a call that fails as a whole (network, throttling, 5xx) is retried by the SDK's standard retry strategy (its
 *   default of 3 attempts with backoff and jitter); this module never calls again for it, so one body never costs
 *   attempts × SDK attempts calls;
 * - entries a successful SendMessageBatch call reports as failed (the SDK does not retry those) are sent again, up to
 *   `attempts` calls in all, with full-jitter exponential backoff; entries failed by the sender's fault (a disabled
 *   key, a body the queue refuses) are not retried, since the same request fails the same way.
 * What is still unsent is returned: the caller reports its input records failed, and the event source retries them.
 */
export interface SendPolicy {
  readonly attempts: number;
  readonly baseDelayMs: number;
}

/** The policy every SQS send uses. */
export const SEND_POLICY: SendPolicy = { attempts: 3, baseDelayMs: 50 };

/** Groups bodies into SendMessageBatch calls: at most 10 entries and the SQS size limit per call. */
const groups = (indexes: readonly number[], bodies: readonly string[]): number[][] => {
  const result: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  for (const i of indexes) {
    const size = Buffer.byteLength(bodies[i] as string);
    if (current.length === 10 || (current.length > 0 && bytes + size > MAX_SQS_MESSAGE_BYTES)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
};

/**
 * Sends every body to the queue, in order, in as few batch calls as fit, under {@link SEND_POLICY}. Returns, per body
 * index, the error of the bodies that could not be sent, so the caller reports exactly those inputs as failed.
 */
export const sendBodies = async (client: SQSClient, queueUrl: string, bodies: readonly string[], policy: SendPolicy = SEND_POLICY): Promise<Map<number, Error>> => {
  const queue = queueUrl.split('/').pop();
  const failed = new Map<number, Error>();
  let pending = bodies.map((_, i) => i);
  for (let attempt = 1; attempt <= policy.attempts && pending.length > 0; attempt += 1) {
    if (attempt > 1) await sleep(Math.random() * policy.baseDelayMs * 2 ** (attempt - 1));
    const retry: number[] = [];
    for (const group of groups(pending, bodies)) {
      try {
        const result = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: group.map((i) => ({ Id: String(i), MessageBody: bodies[i] as string })) }));
        for (const entry of result.Failed ?? []) {
          const i = Number(entry.Id);
          const why = `${entry.Code ?? 'error'}${entry.SenderFault ? ' (sender fault)' : ''}`;
          if (entry.SenderFault || attempt === policy.attempts) failed.set(i, new SendFailedError(`could not send message to ${queue} (attempt ${attempt}): ${why}`));
          else retry.push(i);
        }
      } catch (error) {
        // The SDK has already retried this call under its own strategy.
        for (const i of group) failed.set(i, new SendFailedError(`could not send message to ${queue}: ${error instanceof Error ? error.name : 'error'}`));
      }
    }
    pending = retry.sort((a, b) => a - b);
  }
  return failed;
};
