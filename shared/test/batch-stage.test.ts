import { FullBatchFailureError } from '@aws-lambda-powertools/batch';
import type { SQSRecord } from 'aws-lambda';
import type { SendBodies } from '../src/aws/sqs-sender';
import { type BatchReport, BatchStage, type BatchStageSpec } from '../src/batch/batch-stage';
import { RecordRejectedError } from '../src/domain/errors';
import type { QuarantineMessage } from '../src/domain/quarantine';
import { kinesisEvent, sqsEvent } from '../test-support/factories';

type Summary = { readonly worked: readonly string[] };

/** A stage over SQS bodies: `bad:` bodies are rejected by the parse, `boom:` bodies throw a plain error, `retry:` ones fail in the work. */
const stageOf = (send: SendBodies, overrides: Partial<BatchStageSpec<SQSRecord, string, Summary>> = {}) => {
  const reports: Array<BatchReport<Summary>> = [];
  const works: string[][] = [];
  const stage = new BatchStage<SQSRecord, string, Summary>({
    stage: 'load',
    quarantineQueueUrl: 'https://sqs/quarantine',
    send,
    report: (report) => reports.push(report),
    parse: (record) => {
      if (record.body.startsWith('bad:')) throw new RecordRejectedError('bad-row-message', 'not a row message: rows: expected a non-empty array');
      if (record.body.startsWith('boom:')) throw new TypeError('cannot read properties of undefined');
      return record.body.toUpperCase();
    },
    work: async (accepted) => {
      works.push(accepted.map((a) => a.value));
      const failed = new Map(accepted.filter((a) => a.record.body.startsWith('retry:')).map((a) => [a.record, new Error('warehouse unavailable')] as const));
      return { failed, rejects: [], summary: { worked: accepted.map((a) => a.value) } };
    },
    ...overrides,
  });
  return { stage, reports, works };
};

const keeping = (sent: Array<{ queueUrl: string; body: string }>, refuse: (body: string) => boolean = () => false): SendBodies => async (queueUrl, bodies) => {
  const failed = new Map<number, Error>();
  bodies.forEach((body, i) => (refuse(body) ? failed.set(i, new Error('refused')) : sent.push({ queueUrl, body })));
  return failed;
};

describe('the batch stage', () => {
  it('runs the work once over the accepted records, in order, quarantines the rejects and fails nothing', async () => {
    // Prepare
    const sent: Array<{ queueUrl: string; body: string }> = [];
    const { stage, reports, works } = stageOf(keeping(sent));
    const event = sqsEvent(['a', 'bad:1', 'b', 'boom:2', 'c']);
    // Act
    const response = await stage.handle(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(works).toEqual([['A', 'B', 'C']]);
    const quarantined = sent.map((s) => JSON.parse(s.body) as QuarantineMessage);
    expect(sent.every((s) => s.queueUrl === 'https://sqs/quarantine')).toBe(true);
    expect(quarantined.map((q) => [q.origin.id, q.reason, q.payload])).toEqual([
      ['msg-1', 'bad-row-message', 'bad:1'],
      ['msg-3', 'unprocessable', 'boom:2'],
    ]);
    // The unexpected error is named by kind only: its message could quote a value.
    expect(quarantined[1]?.detail).toBe('unexpected TypeError while decoding the record');
    expect(reports).toEqual([{ records: 5, accepted: 3, quarantined: [{ id: 'msg-1', reason: 'bad-row-message' }, { id: 'msg-3', reason: 'unprocessable' }], failed: [], summary: { worked: ['A', 'B', 'C'] } }]);
  });

  it('reports exactly the records the work failed, in Powertools\' partial response', async () => {
    // Prepare
    const { stage } = stageOf(keeping([]));
    const event = sqsEvent(['a', 'retry:b', 'c', 'retry:d']);
    // Act
    const response = await stage.handle(event);
    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }, { itemIdentifier: 'msg-3' }] });
  });

  it('fails a rejected record whose quarantine could not be sent, and only that one', async () => {
    // Prepare
    const { stage } = stageOf(keeping([], (body) => body.includes('"payload":"bad:2"')));
    const event = sqsEvent(['a', 'bad:1', 'bad:2']);
    // Act
    const response = await stage.handle(event);
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-2' }]);
  });

  it('never quarantines the rejects of a record that failed: they wait for its retry', async () => {
    // Prepare: the work finds a reject in a record that it also fails
    const sent: Array<{ queueUrl: string; body: string }> = [];
    const { stage } = stageOf(keeping(sent), {
      work: async (accepted) => ({
        failed: new Map([[accepted[0]?.record as SQSRecord, new Error('warehouse unavailable')]]),
        rejects: accepted.map((a) => ({ record: a.record, reason: 'invalid-value' as const, detail: 'row 0: eventId: missing', payload: a.record.body })),
        summary: { worked: [] },
      }),
    });
    // Act
    const response = await stage.handle(sqsEvent(['a', 'b']));
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }]);
    expect(sent.map((s) => (JSON.parse(s.body) as QuarantineMessage).origin.id)).toEqual(['msg-1']);
  });

  it('when the work throws, fails every accepted record and still quarantines the rejects', async () => {
    // Prepare
    const sent: Array<{ queueUrl: string; body: string }> = [];
    const { stage, reports } = stageOf(keeping(sent), { work: async () => Promise.reject(new Error('connection lost')) });
    // Act
    const response = await stage.handle(sqsEvent(['a', 'bad:1', 'b']));
    // Assess
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-0' }, { itemIdentifier: 'msg-2' }]);
    expect(sent).toHaveLength(1);
    expect(reports[0]).toMatchObject({ failed: [{ id: 'msg-0', error: 'Error: connection lost' }, { id: 'msg-2', error: 'Error: connection lost' }], summary: undefined });
  });

  it('throws Powertools\' FullBatchFailureError when every record failed, after reporting the batch', async () => {
    // Prepare
    const { stage, reports } = stageOf(keeping([]));
    // Act
    const error = await stage.handle(sqsEvent(['retry:a', 'retry:b'])).catch((e: unknown) => e);
    // Assess
    expect(error).toBeInstanceOf(FullBatchFailureError);
    expect(reports[0]?.failed.map((f) => f.id)).toEqual(['msg-0', 'msg-1']);
  });

  it('names Kinesis records by sequence number and quarantines their base64 data', async () => {
    // Prepare
    const sent: Array<{ queueUrl: string; body: string }> = [];
    const stage = new BatchStage({
      stage: 'transform',
      quarantineQueueUrl: 'q',
      send: keeping(sent),
      parse: (): never => {
        throw new RecordRejectedError('not-json', 'payload is not valid JSON');
      },
      work: async () => ({ failed: new Map(), rejects: [], summary: undefined }),
    });
    const event = kinesisEvent(['{oops']);
    // Act
    await stage.handle(event);
    // Assess
    expect(JSON.parse(sent[0]?.body as string)).toMatchObject({ origin: { stage: 'transform', id: event.Records[0]?.kinesis.sequenceNumber }, payload: event.Records[0]?.kinesis.data });
  });

  it('settles one record as a batch of one, and refuses synchronous processing', async () => {
    // Prepare
    const { stage, works } = stageOf(keeping([]));
    const [record] = sqsEvent(['x']).Records as [SQSRecord];
    // Act
    const settled = await stage.processRecord(record);
    // Assess
    expect(settled).toEqual(['success', undefined, record]);
    expect(works).toEqual([['X']]);
    expect(() => stage.processRecordSync()).toThrow(/asynchronously/);
  });
});
