/** Test helper: reads what has arrived on one Kinesis stream since the last call, across all shards. */
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type KinesisClient, type _Record } from '@aws-sdk/client-kinesis';

export interface StreamReader {
  /** Records that arrived since the previous call, shard by shard in shard order. */
  next(): Promise<_Record[]>;
}

export async function openStreamReader(kinesis: KinesisClient, streamName: string): Promise<StreamReader> {
  const { StreamDescription } = await kinesis.send(new DescribeStreamCommand({ StreamName: streamName }));
  const iterators = new Map<string, string | undefined>();
  for (const shard of StreamDescription?.Shards ?? []) {
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({ StreamName: streamName, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    iterators.set(shard.ShardId!, ShardIterator);
  }
  return {
    async next() {
      const out: _Record[] = [];
      for (const [shardId, iterator] of iterators) {
        let current = iterator;
        for (;;) {
          if (!current) break;
          const reply = await kinesis.send(new GetRecordsCommand({ ShardIterator: current }));
          current = reply.NextShardIterator;
          out.push(...(reply.Records ?? []));
          if ((reply.Records ?? []).length === 0) break;
        }
        iterators.set(shardId, current);
      }
      return out;
    },
  };
}
