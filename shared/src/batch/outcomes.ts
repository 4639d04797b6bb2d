import { type BatchProcessor, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { KinesisStreamRecord, SQSRecord } from 'aws-lambda';

/** Per record id, the error that record failed with (records absent from the map succeeded). */
export type Outcomes = ReadonlyMap<string, Error>;

type BatchRecord = KinesisStreamRecord | SQSRecord;

const idOf = (record: BatchRecord): string => ('kinesis' in record ? record.kinesis.sequenceNumber : record.messageId);

/**
 * Whole-batch work with Powertools' partial responses. Loading packs many records into one SQS message or one
 * warehouse transaction, so the work is done once for the batch; its per-record outcomes are then replayed through
 * `BatchProcessor` + `processPartialResponse`, whose record handler throws each failed record's own error. Nothing is
 * swallowed: a failed record is reported (and retried by the event source), never acknowledged.
 */
export const processWithOutcomes = async <R extends BatchRecord>(
  records: readonly R[],
  processor: BatchProcessor,
  work: (records: readonly R[]) => Promise<Outcomes>,
): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> => {
  const outcomes = await work(records);
  return processPartialResponse(
    { Records: [...records] },
    async (record: R) => {
      const error = outcomes.get(idOf(record));
      if (error) throw error;
    },
    processor,
    { processInParallel: false },
  );
};
