/**
 * The capture's outbox never drops a record when Kinesis fails, and keeps per-partition-key order through
 * whole-call failures and partial PutRecords failures.
 */
import type { KinesisClient, PutRecordsCommand, PutRecordsCommandOutput } from '@aws-sdk/client-kinesis';
import { KinesisOutbox, OutboxUndeliveredError } from '../src/stack/kinesis-outbox';

type Fault = 'throw' | { failIndexes: number[] } | undefined;

/** A Kinesis stand-in that applies one scripted fault per call, then accepts everything. */
function flakyKinesis(faults: Fault[]) {
  const landed: { key: string; data: string }[] = [];
  let calls = 0;
  const client = {
    async send(command: PutRecordsCommand): Promise<PutRecordsCommandOutput> {
      const fault = faults[calls++];
      if (fault === 'throw') throw Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
      const failing = new Set(fault?.failIndexes ?? []);
      const records = command.input.Records!.map((r, i) => {
        if (failing.has(i)) return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'slow down' };
        landed.push({ key: r.PartitionKey!, data: Buffer.from(r.Data!).toString() });
        return { SequenceNumber: String(landed.length), ShardId: 'shardId-000000000000' };
      });
      return { Records: records, FailedRecordCount: failing.size, $metadata: {} };
    },
  };
  return { client: client as unknown as KinesisClient, landed, calls: () => calls };
}

describe('KinesisOutbox', () => {
  describe.each([
    { name: 'whole calls that throw', faults: ['throw', 'throw', 'throw'] as Fault[] },
    { name: 'partial failures of the first records', faults: [{ failIndexes: [0] }, { failIndexes: [0, 1] }] as Fault[] },
    { name: 'a mix of both', faults: [{ failIndexes: [1] }, 'throw', { failIndexes: [0, 2] }, 'throw'] as Fault[] },
  ])('under $name', ({ faults }) => {
    it('delivers every record exactly once, in enqueue order per partition key', async () => {
      // Prepare
      const kinesis = flakyKinesis(faults);
      const outbox = new KinesisOutbox(kinesis.client, { retryBaseMs: 1, retryMaxMs: 2 });
      const sent = Array.from({ length: 30 }, (_, i) => ({ key: `K${i % 3}`, data: `r${i}` }));
      // Act
      for (const r of sent) outbox.enqueue({ streamName: 's', partitionKey: r.key, data: Buffer.from(r.data) });
      await outbox.flush();
      // Assess
      expect([...kinesis.landed].sort((a, b) => a.data.localeCompare(b.data))).toEqual([...sent].sort((a, b) => a.data.localeCompare(b.data)));
      for (const key of ['K0', 'K1', 'K2']) {
        expect(kinesis.landed.filter((r) => r.key === key).map((r) => r.data)).toEqual(sent.filter((r) => r.key === key).map((r) => r.data));
      }
      expect(outbox.stats).toMatchObject({ emitted: 30, pending: 0 });
      expect(outbox.stats.retries).toBeGreaterThan(0);
      expect(outbox.stats.lastError).toBeDefined();
      await outbox.close();
    });
  });

  it('reports what it could not deliver when closed while Kinesis keeps failing', async () => {
    // Prepare
    const kinesis = flakyKinesis(Array.from({ length: 10_000 }, () => 'throw' as const));
    const outbox = new KinesisOutbox(kinesis.client, { retryBaseMs: 1, retryMaxMs: 5 });
    outbox.enqueue({ streamName: 's', partitionKey: 'k', data: Buffer.from('x') });
    outbox.enqueue({ streamName: 's', partitionKey: 'k', data: Buffer.from('y') });
    // Act
    const closing = outbox.close(50);
    // Assess
    await expect(closing).rejects.toEqual(new OutboxUndeliveredError(2));
    expect(kinesis.landed).toEqual([]);
  });
});
