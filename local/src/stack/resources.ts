/**
 * Creates the table, the stream and the queues the pipeline needs, from the stack config. Idempotent, so it also
 * works against LocalStack or an account where some already exist.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeKinesisStreamingDestinationCommand,
  DescribeTableCommand,
  EnableKinesisStreamingDestinationCommand,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, ResourceInUseException as StreamInUseException } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { StackClients } from './aws-env';
import { type BackoffPolicy, backoffMs } from './backoff';
import { arns, type QueueKey, type StackConfig } from './local-config';

/** A queue as created. */
export interface QueueResource {
  name: string;
  url: string;
  arn: string;
}

/** What exists after `createResources`. */
export interface StackResources {
  table: { name: string; arn: string };
  stream: { name: string; arn: string; shardIds: string[] };
  queues: Record<QueueKey, QueueResource>;
  /** The table's Kinesis streaming destination, when the stack was asked to turn it on (external endpoints). */
  streamingDestination?: StreamingDestinationState;
}

/**
 * What became of the table's Kinesis streaming destination: ACTIVE, or refused by an endpoint that does not implement
 * it (then nothing reaches the stream unless something else streams the table's changes; `reason` says what to do).
 */
export type StreamingDestinationState = { status: 'ACTIVE' } | { status: 'UNSUPPORTED'; reason: string };

export interface CreateResourcesOptions {
  /** Turn on DynamoDB's own Kinesis streaming destination (LocalStack / AWS); off when the local capture does it. */
  enableStreamingDestination?: boolean;
  /** Give up waiting for ACTIVE after this long. */
  timeoutMs?: number;
}

/** Raised when a resource does not become usable. */
export class ResourceSetupError extends Error {
  override readonly name = 'ResourceSetupError';
}

/** Creates (or finds) every resource in `config`. */
export async function createResources(
  clients: StackClients,
  config: StackConfig,
  options: CreateResourcesOptions = {},
): Promise<StackResources> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const [table, stream, queues] = await Promise.all([
    createTable(clients, config, timeoutMs),
    createStream(clients, config, timeoutMs),
    createQueues(clients, config),
  ]);
  if (!options.enableStreamingDestination) return { table, stream, queues };
  const streamingDestination = await enableDestination(clients, config, stream.arn, timeoutMs);
  return { table, stream, queues, streamingDestination };
}

async function createTable(clients: StackClients, config: StackConfig, timeoutMs: number) {
  const name = config.table.name;
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        KeySchema: [{ AttributeName: config.table.partitionKey, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: config.table.partitionKey, AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const description = await waitFor(`table ${name} ACTIVE`, timeoutMs, async () => {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
    return Table?.TableStatus === 'ACTIVE' ? Table : undefined;
  });
  return { name, arn: description.TableArn ?? arns.table(config) };
}

async function createStream(clients: StackClients, config: StackConfig, timeoutMs: number) {
  const name = config.stream.name;
  try {
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: config.stream.shardCount }));
  } catch (error) {
    if (!(error instanceof StreamInUseException)) throw error;
  }
  const description = await waitFor(`stream ${name} ACTIVE`, timeoutMs, async () => {
    const { StreamDescription } = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: name }));
    return StreamDescription?.StreamStatus === 'ACTIVE' ? StreamDescription : undefined;
  });
  const shardIds = (description.Shards ?? [])
    .filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber)
    .map((s) => s.ShardId!)
    .sort();
  return { name, arn: description.StreamARN ?? arns.stream(config), shardIds };
}

async function createQueues(clients: StackClients, config: StackConfig): Promise<Record<QueueKey, QueueResource>> {
  const created = new Map<QueueKey, QueueResource>();
  const keys = Object.keys(config.queues) as QueueKey[];
  // Dead-letter targets first: a redrive policy names its target by ARN.
  const ordered = [...keys.filter((k) => !config.queues[k].redrive), ...keys.filter((k) => config.queues[k].redrive)];
  for (const key of ordered) {
    const queue = config.queues[key];
    const attributes: Record<string, string> = {
      VisibilityTimeout: String(queue.visibilityTimeoutSeconds),
      MessageRetentionPeriod: String(queue.messageRetentionSeconds),
    };
    if (queue.redrive) {
      const target = created.get(queue.redrive.deadLetterQueue);
      if (!target) throw new ResourceSetupError(`queue ${queue.name}: dead-letter queue ${queue.redrive.deadLetterQueue} is not configured`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: target.arn, maxReceiveCount: queue.redrive.maxReceiveCount });
    }
    const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: queue.name, Attributes: attributes }));
    const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    created.set(key, { name: queue.name, url: QueueUrl!, arn: Attributes?.QueueArn ?? arns.queue(config, key) });
  }
  return Object.fromEntries(created) as Record<QueueKey, QueueResource>;
}

/**
 * Turns the table's Kinesis streaming destination on (or finds it on). An endpoint that does not implement the
 * operation is reported, not fatal: the rest of the pipeline still runs, and the user is told what to do.
 */
async function enableDestination(clients: StackClients, config: StackConfig, streamArn: string, timeoutMs: number): Promise<StreamingDestinationState> {
  const describe = async () =>
    (await clients.dynamodb.send(new DescribeKinesisStreamingDestinationCommand({ TableName: config.table.name })))
      .KinesisDataStreamDestinations ?? [];
  try {
    const existing = (await describe()).find((d) => d.StreamArn === streamArn);
    if (!existing || existing.DestinationStatus === 'DISABLED') {
      await clients.dynamodb.send(
        new EnableKinesisStreamingDestinationCommand({
          TableName: config.table.name,
          StreamArn: streamArn,
          EnableKinesisStreamingConfiguration: { ApproximateCreationDateTimePrecision: 'MICROSECOND' },
        }),
      );
    }
  } catch (error) {
    if (!isUnsupported(error)) throw error;
    const reason =
      `the DynamoDB endpoint does not support Kinesis streaming destinations (${describeAwsError(error)}): ` +
      `changes to table ${config.table.name} reach stream ${config.stream.name} only if something else streams them there`;
    return { status: 'UNSUPPORTED', reason };
  }
  await waitFor('Kinesis streaming destination ACTIVE', timeoutMs, async () =>
    (await describe()).find((d) => d.StreamArn === streamArn && d.DestinationStatus === 'ACTIVE'),
  );
  return { status: 'ACTIVE' };
}

/** An endpoint's way of saying it does not implement an operation (DynamoDB-compatible emulators differ). */
function isUnsupported(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (
    /^(UnknownOperation|NotImplemented|UnsupportedOperation|InvalidAction)(Exception)?$/.test(error.name) ||
    status === 501 ||
    /not (yet )?(supported|implemented)|unknown operation/i.test(error.message)
  );
}

function describeAwsError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message.split('\n')[0]}` : String(error);
}

/** Polls of a resource's state: quick at first (the emulators are fast), then at most twice a second. */
const POLL_BACKOFF: BackoffPolicy = { baseMs: 10, maxMs: 500 };

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let poll = 1; ; poll++) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new ResourceSetupError(`timed out waiting for ${what}`);
    await sleep(backoffMs(poll, POLL_BACKOFF));
  }
}
