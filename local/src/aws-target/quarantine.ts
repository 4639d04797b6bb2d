/**
 * `claims-cdc quarantine list|show|redrive --target aws`: the deployed quarantine queue read in place. There is no
 * store on AWS (nothing drains the queue: its messages stay 14 days), so the queue is the store: its messages are
 * received, folded into entries exactly as the local store folds them (parts joined, redeliveries merged), and made
 * visible again at once. Re-drive sends the fixed record where the input entered (the same checks as the local
 * re-drive) and then deletes the entry's messages by their receipt handles.
 *
 * SQS cannot list a queue: a receive returns a sample (at most 10 messages, from some of its servers). A read makes
 * up to {@link MAX_POLLS} receives and stops earlier once it has seen as many messages as the queue's approximate
 * depth, or when polls keep bringing nothing new; the result says whether it saw them all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { QuarantineMessageSchema } from '@claims-cdc/shared';
import { redriveRecord } from '../quarantine/redrive';
import { entryIdFor, QuarantineStore, type QuarantineEntryWithPayload, type RedriveMark, type StoreLine } from '../quarantine/store';
import { kinesis, sqs } from './clients';
import { AwsTargetError } from './errors';
import type { StageResources } from './resources';

/** Receives per read, at most. */
export const MAX_POLLS = 50;
/** Consecutive receives that bring no message not seen yet, after which a read stops. */
const IDLE_POLLS = 3;
/** How long a read hides what it received: long enough to fold, re-drive and delete; released right after. */
const HOLD_SECONDS = 60;

/** What a read of the quarantine queue saw. */
export interface QuarantineRead {
  entries: QuarantineEntryWithPayload[];
  /** Distinct messages received. */
  messages: number;
  /** The queue's approximate depth (waiting + in flight) before the read. */
  approximateDepth: number;
  /** False when the read stopped before seeing as many messages as the approximate depth. */
  complete: boolean;
}

interface Held {
  messages: Message[];
  approximateDepth: number;
}

async function approximateDepth(queueUrl: string): Promise<number> {
  const reply = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(reply.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(reply.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Receives (and hides for {@link HOLD_SECONDS}) the queue's messages, bounded as the module comment says. */
async function receiveAll(queueUrl: string): Promise<Held> {
  const depth = await approximateDepth(queueUrl);
  const seen = new Map<string, Message>();
  for (let poll = 0, idle = 0; poll < MAX_POLLS && idle < IDLE_POLLS && seen.size < depth; poll++) {
    const reply = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: HOLD_SECONDS }));
    const fresh = (reply.Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
    for (const m of fresh) seen.set(m.MessageId as string, m);
    idle = fresh.length === 0 ? idle + 1 : 0;
  }
  return { messages: [...seen.values()], approximateDepth: depth };
}

/** Makes held messages visible again (those not deleted). */
async function release(queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle as string, VisibilityTimeout: 0 })) }));
  }
}

/** A queue message as a line of the local store's format (a message in no known format is kept as unreadable). */
function toLine(message: Message, receivedAt: string): StoreLine {
  const body = message.Body ?? '';
  try {
    const parsed = QuarantineMessageSchema.safeParse(JSON.parse(body));
    if (parsed.success) return { type: 'part', receivedAt, message: parsed.data };
  } catch {
    // Not JSON: unreadable, below.
  }
  return { type: 'unreadable', receivedAt, messageId: message.MessageId ?? '', body };
}

/** The entry id a message belongs to (undefined for one in no known format). */
function entryIdOf(message: Message): string | undefined {
  try {
    const parsed = QuarantineMessageSchema.safeParse(JSON.parse(message.Body ?? ''));
    return parsed.success ? entryIdFor(parsed.data.origin) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Folds messages into entries with the local store's own fold, in a private temporary file (payloads are PHI: the
 * directory is owner-only and removed before returning).
 */
function fold<T>(messages: readonly Message[], use: (store: QuarantineStore) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-quarantine-'));
  try {
    const store = new QuarantineStore(path.join(dir, 'quarantine.jsonl'));
    const receivedAt = new Date().toISOString();
    store.append(messages.map((m) => toLine(m, receivedAt)));
    return use(store);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads every entry it can (see the module comment); nothing is deleted. */
export async function readQuarantine(resources: StageResources): Promise<QuarantineRead> {
  const queueUrl = resources.queues.quarantine;
  const held = await receiveAll(queueUrl);
  try {
    const entries = fold(held.messages, (store) => store.entriesWithPayloads()).sort((a, b) => a.quarantinedAt.localeCompare(b.quarantinedAt) || a.id.localeCompare(b.id));
    return { entries, messages: held.messages.length, approximateDepth: held.approximateDepth, complete: held.messages.length >= held.approximateDepth };
  } finally {
    await release(queueUrl, held.messages);
  }
}

/** One entry by id or unique prefix. */
export async function showQuarantined(resources: StageResources, id: string): Promise<QuarantineEntryWithPayload> {
  const read = await readQuarantine(resources);
  return lookup(read.entries, id, read);
}

function lookup(entries: readonly QuarantineEntryWithPayload[], id: string, read: Pick<QuarantineRead, 'complete' | 'messages'>): QuarantineEntryWithPayload {
  const matches = entries.filter((e) => e.id === id || e.id.startsWith(id));
  const exact = matches.find((e) => e.id === id);
  if (exact) return exact;
  if (matches.length === 1) return matches[0] as QuarantineEntryWithPayload;
  if (matches.length > 1) throw new AwsTargetError(`id '${id}' matches ${matches.length} records; give more characters`);
  const partial = read.complete ? '' : ` (this read saw ${read.messages} messages, not the whole queue: SQS returns samples; try again)`;
  throw new AwsTargetError(`no quarantined record with id '${id}' in the quarantine queue${partial}`);
}

/**
 * Re-drives the fixed record `text` for entry `id`: the local re-drive's checks (the pipeline's own validation, and
 * the same claim and event unless `force`), the send (Kinesis for a transform reject, the load queue for a load
 * reject), then the deletion of every message of the entry. A failure before the send leaves the queue as it was.
 */
export async function redriveQuarantined(resources: StageResources, id: string, text: string, force: boolean): Promise<RedriveMark & { id: string; deleted: number }> {
  const queueUrl = resources.queues.quarantine;
  const held = await receiveAll(queueUrl);
  let deleted: Message[] = [];
  try {
    const entries = fold(held.messages, (store) => store.entriesWithPayloads());
    const entry = lookup(entries, id, { complete: held.messages.length >= held.approximateDepth, messages: held.messages.length });
    if (entry.payload === undefined) throw new AwsTargetError(`${entry.id}: not every part of its payload is in the queue; nothing was re-driven`);
    const mine = held.messages.filter((m) => entryIdOf(m) === entry.id);
    const mark = await redriveRecord(entry, text, { kinesis, streamName: resources.streamName, sqs, loadQueueUrl: resources.queues.load }, { force });
    await deleteMessages(queueUrl, mine);
    deleted = mine;
    return { id: entry.id, ...mark, deleted: mine.length };
  } finally {
    const gone = new Set(deleted.map((m) => m.MessageId));
    await release(queueUrl, held.messages.filter((m) => !gone.has(m.MessageId)));
  }
}

async function deleteMessages(queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    const reply = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle as string })) }));
    if (reply.Failed?.length) throw new AwsTargetError(`re-driven, but ${reply.Failed.length} of the entry's queue messages could not be deleted (${reply.Failed[0]?.Code}); re-driving it again is safe`);
  }
}
