/**
 * Stage 1, transform: what the transform Lambda does per Kinesis batch (decode base64 → JSON → Powertools-based
 * schema → unmarshall, flatten/rename to the row, pack rows into load-queue messages), records/s on one core.
 * The SQS send is replaced by a function that only counts bytes, so the figure is the CPU cost of the handler body.
 * Side by side: the same work with the generic flatten + rename map (generic-flatten.ts).
 */
import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import {
  ChangeRecordSchema,
  type ClaimRow,
  ClaimSchema,
  decodeKinesisData,
  MAX_SQS_MESSAGE_BYTES,
  packRows,
  RecordRejectedError,
  toClaimRow,
} from '@claims-cdc/shared';
import { processWithOutcomes } from '@claims-cdc/shared/batch/outcomes';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { KinesisStreamRecord } from 'aws-lambda';
import { deliverRecords, type Send } from '../../services/transform/src/deliver';
import { genericClaimRow } from '../generic-flatten';
import { median, progress, secondsSince, timed } from '../measure';
import type { TransformOptions, TransformResult } from '../results';
import { kinesisRecords } from '../seed-data';

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

/** The generic variant of deliverRecords: same decode, same packing, same (counting) send; generic flatten + rename. */
const deliverGeneric = async (records: readonly KinesisStreamRecord[], send: Send): Promise<void> => {
  const rows: ClaimRow[] = [];
  for (const record of records) {
    try {
      rows.push(genericClaimRow(decodeKinesisData(record.kinesis.data, record.kinesis.sequenceNumber)));
    } catch (error) {
      if (!(error instanceof RecordRejectedError)) throw error;
    }
  }
  const { messages } = packRows(rows, MAX_SQS_MESSAGE_BYTES);
  await send('load', messages.map((m) => m.body));
};

/** Microseconds per record of `body` over `items`, median of `runs`. */
const perRecordMicros = <T>(items: readonly T[], runs: number, body: (item: T) => unknown): number => {
  for (const item of items.slice(0, Math.min(items.length, 2_000))) body(item);
  const samples: number[] = [];
  for (let r = 0; r < runs; r += 1) {
    const start = process.hrtime.bigint();
    for (const item of items) body(item);
    samples.push((secondsSince(start) * 1e6) / items.length);
  }
  return median(samples);
};

/** Runs stage 1. */
export const runTransform = async (options: TransformOptions): Promise<TransformResult> => {
  progress(`transform: building ${options.records.toLocaleString('en-US')} change records (buildChangeRecord over generated claims)`);
  const records = kinesisRecords(options.records, options.seed);
  const batches = chunks(records, options.batchSize);
  let sentBytes = 0;
  let sentMessages = 0;
  const send: Send = async (_queue, bodies) => {
    for (const body of bodies) sentBytes += body.length;
    sentMessages += bodies.length;
    return new Map();
  };

  // Same output both ways, or the comparison means nothing.
  const decoded = records.map((r) => decodeKinesisData(r.kinesis.data, r.kinesis.sequenceNumber));
  const oursBodies = packRows(decoded.map(toClaimRow)).messages.map((m) => m.body);
  const genericBodies = packRows(decoded.map(genericClaimRow)).messages.map((m) => m.body);
  const identical = oursBodies.length === genericBodies.length && oursBodies.every((body, i) => body === genericBodies[i]);

  const processor = new BatchProcessor(EventType.KinesisDataStreams);
  const oursRun = async (): Promise<void> => {
    for (const batch of batches) {
      const response = await processWithOutcomes(batch, processor, async (recs) => (await deliverRecords(recs, { loadQueueUrl: 'load', quarantineQueueUrl: 'quarantine' }, send)).outcomes);
      if (response.batchItemFailures.length > 0) throw new Error('benchmark records must all succeed');
    }
  };
  const genericRun = async (): Promise<void> => {
    for (const batch of batches) {
      const response = await processWithOutcomes(batch, processor, async (recs) => {
        await deliverGeneric(recs, send);
        return new Map();
      });
      if (response.batchItemFailures.length > 0) throw new Error('benchmark records must all succeed');
    }
  };

  const measure = async (name: string, run: () => Promise<void>, runs: number, into: { wall: number[]; cpu: number[] }): Promise<void> => {
    if (into.wall.length === 0) await run(); // warm-up: JIT and caches, not counted
    for (let r = 0; r < runs; r += 1) {
      const { seconds, cpuSeconds } = await timed(run);
      into.wall.push(records.length / seconds);
      into.cpu.push(records.length / cpuSeconds);
    }
    progress(`transform (${name}): ${into.wall.map((x) => Math.round(x).toLocaleString('en-US')).join(', ')} records/s`);
  };
  // Alternate the two so machine noise hits both alike.
  const ours = { wall: [] as number[], cpu: [] as number[] };
  const generic = { wall: [] as number[], cpu: [] as number[] };
  for (const runs of [Math.ceil(options.runs / 2), Math.floor(options.runs / 2)]) {
    if (runs === 0) continue;
    await measure('ours', oursRun, runs, ours);
    await measure('generic', genericRun, runs, generic);
  }
  sentBytes = 0;
  sentMessages = 0;
  await oursRun();
  const bytesPerRecord = sentBytes / records.length;
  const rowsPerMessage = records.length / sentMessages;

  progress('transform: per-step cost');
  const texts = records.map((r) => Buffer.from(r.kinesis.data, 'base64').toString('utf8'));
  const payloads = texts.map((t) => JSON.parse(t) as { dynamodb: { NewImage?: Record<string, unknown>; OldImage?: Record<string, unknown> } });
  const images = decoded.map((e) => e.newImage ?? e.oldImage).filter((i) => i !== undefined);
  const stepRuns = Math.max(3, Math.min(options.runs, 5));
  const oursRows = decoded.map(toClaimRow);
  const steps = {
    base64: perRecordMicros(records, stepRuns, (r) => Buffer.from(r.kinesis.data, 'base64').toString('utf8')),
    jsonParse: perRecordMicros(texts, stepRuns, (t) => JSON.parse(t)),
    recordSchema: perRecordMicros(payloads, stepRuns, (p) => ChangeRecordSchema.safeParse(p)),
    unmarshall: perRecordMicros(payloads, stepRuns, (p) => {
      if (p.dynamodb.NewImage) unmarshall(p.dynamodb.NewImage as Parameters<typeof unmarshall>[0]);
      if (p.dynamodb.OldImage) unmarshall(p.dynamodb.OldImage as Parameters<typeof unmarshall>[0]);
    }),
    claimSchema: perRecordMicros(images, stepRuns, (i) => ClaimSchema.safeParse(i)),
    decodeTotal: perRecordMicros(records, stepRuns, (r) => decodeKinesisData(r.kinesis.data, r.kinesis.sequenceNumber)),
    flattenOurs: perRecordMicros(decoded, stepRuns, toClaimRow),
    flattenGeneric: perRecordMicros(decoded, stepRuns, genericClaimRow),
    serialize: perRecordMicros(chunks(oursRows, options.batchSize), stepRuns, (rows) => packRows(rows)) / options.batchSize,
  };

  return {
    records: records.length,
    batchSize: options.batchSize,
    runs: ours.wall.length,
    oursRecordsPerSecond: median(ours.wall),
    oursRecordsPerCpuSecond: median(ours.cpu),
    oursRuns: ours.wall,
    genericRecordsPerSecond: median(generic.wall),
    genericRecordsPerCpuSecond: median(generic.cpu),
    genericRuns: generic.wall,
    ratio: median(ours.cpu) / median(generic.cpu),
    flattenRatio: steps.flattenGeneric / steps.flattenOurs,
    outputsIdentical: identical,
    bytesPerRecord,
    rowsPerMessage,
    stepMicros: steps,
  };
};
