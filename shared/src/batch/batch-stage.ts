import { BasePartialBatchProcessor, BatchProcessingError, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { FailureResponse, PartialItemFailureResponse, SuccessResponse } from '@aws-lambda-powertools/batch/types';
import type { Context, KinesisStreamRecord, SQSRecord } from 'aws-lambda';
import type { SendBodies } from '../aws/sqs-sender';
import { type RejectReason, toRejection } from '../domain/errors';
import { type QuarantineOrigin, quarantineMessages } from '../domain/quarantine';

/** The records a stage reads: Kinesis (transform) or SQS (load). */
export type StageRecord = KinesisStreamRecord | SQSRecord;

/** Something that can never succeed, with its reason and the payload kept for a re-drive. */
export interface Reject<R extends StageRecord> {
  /** The input record it came from. */
  readonly record: R;
  readonly reason: RejectReason;
  /** Field paths and rules, never values (PHI). */
  readonly detail: string;
  /** The raw payload (the record's own, or the part of it that was rejected, ready to re-drive). */
  readonly payload: string;
}

/** A record the parse accepted, with what it parsed to. */
export interface Accepted<R extends StageRecord, T> {
  readonly record: R;
  readonly value: T;
}

/** What the batch work did. */
export interface WorkResult<R extends StageRecord, S> {
  /** Records that must be retried (an infrastructure failure), with their error. */
  readonly failed: ReadonlyMap<R, Error>;
  /** More to quarantine, found by the work (a row too large, a row the warehouse refused). */
  readonly rejects: ReadonlyArray<Reject<R>>;
  /** Counts for metrics and logs (never record content). */
  readonly summary: S;
}

/** What one batch did, for metrics and logs: ids, reasons and counts only. */
export interface BatchReport<S> {
  readonly records: number;
  readonly accepted: number;
  readonly quarantined: ReadonlyArray<{ readonly id: string; readonly reason: string }>;
  /** Failed records and their error (`name: message`; this pipeline's errors carry no record content). */
  readonly failed: ReadonlyArray<{ readonly id: string; readonly error: string }>;
  /** The work's summary; undefined when the work threw. */
  readonly summary: S | undefined;
}

/** How a stage handles a batch: everything but the batch mechanics. */
export interface BatchStageSpec<R extends StageRecord, T, S> {
  readonly stage: QuarantineOrigin['stage'];
  /**
   * The record handler: parses one record, synchronously and without I/O.
   * @throws RecordRejectedError when the record can never be processed (any other error is taken as one too,
   *   `unprocessable`: the same bytes would fail the same way on every retry).
   */
  readonly parse: (record: R) => T;
  /** The batch's work, once, over every accepted record, in order. Throwing fails every accepted record. */
  readonly work: (accepted: ReadonlyArray<Accepted<R, T>>, context: Context | undefined) => Promise<WorkResult<R, S>>;
  readonly quarantineQueueUrl: string;
  readonly send: SendBodies;
  /** Called once per batch, before the reply (and before a full-batch failure is thrown). */
  readonly report?: (report: BatchReport<S>) => void;
}

const isKinesis = (record: StageRecord): record is KinesisStreamRecord => 'kinesis' in record;

/** The id Lambda's partial batch response names a record by. */
export const recordId = (record: StageRecord): string => (isKinesis(record) ? record.kinesis.sequenceNumber : record.messageId);

/** The record's raw payload, exactly as received: Kinesis's base64 `data`, or the SQS body. */
export const recordPayload = (record: StageRecord): string => (isKinesis(record) ? record.kinesis.data : record.body);

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * THE quarantine of a batch's rejects: each one's reason, detail and whole payload (in parts when large) to the
 * quarantine queue, in one send. Returns the records whose quarantine could not be sent: they must fail (and be
 * retried), never be acknowledged, or their payload would be lost.
 */
export const quarantineRejects = async <R extends StageRecord>(
  rejects: ReadonlyArray<Reject<R>>,
  stage: QuarantineOrigin['stage'],
  queueUrl: string,
  send: SendBodies,
): Promise<Map<R, Error>> => {
  const owners: R[] = [];
  const bodies: string[] = [];
  for (const { record, reason, detail, payload } of rejects) {
    for (const message of quarantineMessages(reason, detail, { stage, id: recordId(record), source: record.eventSourceARN }, payload)) {
      owners.push(record);
      bodies.push(JSON.stringify(message));
    }
  }
  const failed = new Map<R, Error>();
  if (bodies.length === 0) return failed;
  for (const [i, error] of await send(queueUrl, bodies)) failed.set(owners[i] as R, error);
  return failed;
};

/**
 * One batch stage for whole-batch work, a Powertools partial processor (`BasePartialBatchProcessor`, as Powertools
 * documents for processors of its own). Per batch: the record handler ({@link BatchStageSpec.parse}) parses each
 * record into accepted or rejected; the work runs once over the accepted records (pack and send, stage in one
 * transaction); rejects are quarantined through {@link quarantineRejects}; then each record is settled once, failed
 * when its work or its quarantine failed (the event source retries it), succeeded otherwise. A record that failed is
 * never also quarantined: its rejects wait for the retry, so nothing is quarantined twice.
 *
 * The reply is Powertools': `batchItemFailures` naming exactly the failed records, and `FullBatchFailureError` when
 * every record failed. State lives in the call, never on the instance, so one instance at module scope serves every
 * invocation.
 */
export class BatchStage<R extends StageRecord, T, S> extends BasePartialBatchProcessor {
  readonly #spec: BatchStageSpec<R, T, S>;

  constructor(spec: BatchStageSpec<R, T, S>) {
    super(spec.stage === 'transform' ? EventType.KinesisDataStreams : EventType.SQS);
    this.#spec = spec;
  }

  /**
   * Handles one Lambda event: `processPartialResponse` with the parse as the record handler. Records are always
   * handled in order (Kinesis needs it), so there is no `processInParallel` to set.
   */
  handle(event: { Records: R[] }, context?: Context): Promise<PartialItemFailureResponse> {
    return processPartialResponse(event, this.#spec.parse, this, context === undefined ? undefined : { context });
  }

  /** The whole batch: parse, work once, quarantine, settle each record. */
  override async process(): Promise<(SuccessResponse | FailureResponse)[]> {
    this.prepare();
    const settled = await this.#settle(this.records as R[]);
    this.clean();
    return settled;
  }

  /** One record, as a batch of one. */
  override async processRecord(record: R): Promise<SuccessResponse | FailureResponse> {
    const [settled] = await this.#settle([record]);
    return settled as SuccessResponse | FailureResponse;
  }

  /** Whole-batch work is asynchronous (sends, transactions): there is no synchronous form. */
  override processRecordSync(): SuccessResponse | FailureResponse {
    throw new BatchProcessingError('BatchStage runs whole batches asynchronously: use handle() or processPartialResponse');
  }

  async #settle(records: readonly R[]): Promise<(SuccessResponse | FailureResponse)[]> {
    const { parse, work, stage, quarantineQueueUrl, send, report } = this.#spec;
    const accepted: Accepted<R, T>[] = [];
    const rejects: Reject<R>[] = [];
    for (const record of records) {
      try {
        accepted.push({ record, value: parse(record) });
      } catch (error) {
        const rejection = toRejection(error);
        rejects.push({ record, reason: rejection.reason, detail: rejection.detail, payload: recordPayload(record) });
      }
    }
    let result: WorkResult<R, S> | undefined;
    const failed = new Map<R, Error>();
    try {
      result = await work(accepted, this.options?.context);
      for (const [record, error] of result.failed) failed.set(record, error);
      rejects.push(...result.rejects);
    } catch (error) {
      for (const { record } of accepted) failed.set(record, asError(error));
    }
    const quarantine = rejects.filter((r) => !failed.has(r.record));
    for (const [record, error] of await quarantineRejects(quarantine, stage, quarantineQueueUrl, send)) failed.set(record, error);
    report?.({
      records: records.length,
      accepted: accepted.length,
      quarantined: quarantine.map((r) => ({ id: recordId(r.record), reason: r.reason })),
      failed: [...failed].map(([record, error]) => ({ id: recordId(record), error: `${error.name}: ${error.message}` })),
      summary: result?.summary,
    });
    return records.map((record) => {
      const error = failed.get(record);
      return error === undefined ? this.successHandler(record, undefined) : this.failureHandler(record, error);
    });
  }
}
