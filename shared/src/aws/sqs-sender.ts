import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MAX_SQS_MESSAGE_BYTES } from '../domain/row-message';

/** A message body could not be sent after every retry. Carries no body content (PHI). */
export class SendFailedError extends Error {
  override readonly name = 'SendFailedError';
}

/** Options for {@link sendBodies}. */
export interface SendOptions {
  readonly attempts?: number;
  readonly baseDelayMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
 * Sends every body to the queue, in order, in as few batch calls as fit; entries that fail (throttling, a
 * transient error) are retried with exponential backoff. Returns, per body index, the error of the bodies that
 * could not be sent, so the caller reports exactly those inputs as failed.
 */
export const sendBodies = async (client: SQSClient, queueUrl: string, bodies: readonly string[], options: SendOptions = {}): Promise<Map<number, Error>> => {
  const attempts = options.attempts ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 50;
  let pending = bodies.map((_, i) => i);
  const lastError = new Map<number, string>();
  for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt += 1) {
    if (attempt > 1) await sleep(baseDelayMs * 2 ** (attempt - 2));
    const retry: number[] = [];
    for (const group of groups(pending, bodies)) {
      try {
        const result = await client.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: group.map((i) => ({ Id: String(i), MessageBody: bodies[i] as string })) }));
        for (const failed of result.Failed ?? []) {
          const i = Number(failed.Id);
          retry.push(i);
          lastError.set(i, `${failed.Code ?? 'error'}${failed.SenderFault ? ' (sender fault)' : ''}`);
        }
      } catch (error) {
        for (const i of group) {
          retry.push(i);
          lastError.set(i, error instanceof Error ? error.name : 'error');
        }
      }
    }
    pending = retry.sort((a, b) => a - b);
  }
  return new Map(pending.map((i) => [i, new SendFailedError(`could not send message to ${queueUrl.split('/').pop()} after ${attempts} attempts: ${lastError.get(i)}`)]));
};
