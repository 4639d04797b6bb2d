/**
 * The chaos harness's one reader of the stream reads each record once: a later read returns only what was put since,
 * on every shard; a subscriber sees each record exactly once, in order per shard; a late subscriber is refused; the
 * acknowledgement probe answers from the records, not from a count. The truth is what this test put (its own list).
 */
import { CreateStreamCommand, DescribeStreamCommand, PutRecordCommand } from '@aws-sdk/client-kinesis';
import { createStackClients, LOCAL_CREDENTIALS, type StackClients } from '../src/stack/aws-env';
import { startEmulators, type Emulators } from '../src/stack/emulators';
import { jsonGetRecords } from '../src/stack/kinesis-get-records';
import { acknowledgedProbe, LateSubscriberError, recordId, StreamTail, type TailedStream, type TailRecord } from '../src/chaos/stream-tail';
import { waitUntil } from './support/wait';

const REGION = 'us-east-1';

describe('StreamTail', () => {
  let emulators: Emulators;
  let clients: StackClients;
  let streams = 0;

  beforeAll(async () => {
    emulators = await startEmulators();
    clients = createStackClients({ kinesis: emulators.endpoints.kinesisHttp1 }, REGION, LOCAL_CREDENTIALS);
  });
  afterAll(async () => {
    clients.destroy();
    await emulators.stop();
  });

  /** A new two-shard stream, and a put that returns the id of what it put. */
  async function twoShardStream(): Promise<{ stream: TailedStream; put: (text: string) => Promise<string> }> {
    const name = `tail-${++streams}`;
    await clients.kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: 2 }));
    const shardIds = await waitUntil(async () => {
      const { StreamDescription } = await clients.kinesis.send(new DescribeStreamCommand({ StreamName: name }));
      return StreamDescription?.StreamStatus === 'ACTIVE' ? (StreamDescription.Shards ?? []).map((s) => s.ShardId as string) : undefined;
    }, 'stream ACTIVE');
    const stream = { resources: { stream: { name, shardIds } }, clients, getRecords: jsonGetRecords(emulators.endpoints.kinesisHttp1, REGION) };
    const put = async (text: string): Promise<string> => {
      const out = await clients.kinesis.send(new PutRecordCommand({ StreamName: name, PartitionKey: text, Data: Buffer.from(text) }));
      return recordId(out.ShardId as string, out.SequenceNumber as string);
    };
    return { stream, put };
  }

  const putAll = async (put: (text: string) => Promise<string>, texts: string[]): Promise<string[]> => {
    const ids: string[] = [];
    for (const text of texts) ids.push(await put(text));
    return ids;
  };
  const texts = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

  it('reads everything on the first read, then only what was put since, across both shards', async () => {
    // Prepare
    const { stream, put } = await twoShardStream();
    const first = await putAll(put, texts('a', 40));
    const tail = new StreamTail();
    // Act
    const readFirst = await tail.catchUp(stream);
    const readEmpty = await tail.catchUp(stream);
    const second = await putAll(put, texts('b', 30));
    const readSecond = await tail.catchUp(stream);
    // Assess
    expect(new Set(first).size).toBe(40);
    expect([...readFirst].sort()).toEqual([...first].sort());
    expect(readEmpty).toEqual([]);
    expect([...readSecond].sort()).toEqual([...second].sort());
    expect([...tail.ids].sort()).toEqual([...first, ...second].sort());
    expect(new Set(first.map((id) => id.split(':')[0])).size).toBe(2);
  });

  it('shows a subscriber each record once, with its bytes and key, in put order per shard', async () => {
    // Prepare
    const { stream, put } = await twoShardStream();
    const tail = new StreamTail();
    const seen: TailRecord[] = [];
    tail.subscribe((record) => seen.push(record));
    const putTexts = [...texts('c', 25), ...texts('d', 25)];
    const ids = await putAll(put, putTexts.slice(0, 25));
    // Act: two reads, with puts between them, and two reads at once.
    await tail.catchUp(stream);
    ids.push(...(await putAll(put, putTexts.slice(25))));
    await Promise.all([tail.catchUp(stream), tail.catchUp(stream)]);
    // Assess
    expect(seen.map((r) => recordId(r.shardId, r.sequenceNumber))).toHaveLength(50);
    const byShard = (list: string[]): Record<string, string[]> => {
      const out: Record<string, string[]> = {};
      for (const id of list) (out[id.split(':')[0] as string] ??= []).push(id);
      return out;
    };
    expect(byShard(seen.map((r) => recordId(r.shardId, r.sequenceNumber)))).toEqual(byShard(ids));
    expect(seen.map((r) => r.data.toString()).sort()).toEqual([...putTexts].sort());
    expect(seen.every((r) => r.partitionKey === r.data.toString())).toBe(true);
  });

  it('refuses a subscriber after the first read (it would miss records)', async () => {
    // Prepare
    const { stream, put } = await twoShardStream();
    await put('e-0');
    const tail = new StreamTail();
    await tail.catchUp(stream);
    // Act / Assess
    expect(() => tail.subscribe(() => undefined)).toThrow(LateSubscriberError);
  });

  it('keeps in the acknowledgement probe what a read cut part-way had read (a kill during the probe)', async () => {
    // Prepare: records on both shards; the first probe's read fails on the second shard, after reading the first.
    const { stream, put } = await twoShardStream();
    const ids = await putAll(put, texts('g', 20));
    const [firstShard, secondShard] = stream.resources.stream.shardIds as [string, string];
    let failOnce = true;
    const cut: TailedStream = {
      ...stream,
      getRecords: async (iterator, limit, signal) => {
        const reply = await stream.getRecords(iterator, limit, signal);
        if (failOnce && reply.records.some((r) => ids.includes(recordId(secondShard, r.sequenceNumber)))) {
          failOnce = false;
          throw new Error('connection reset (the stack was killed)');
        }
        return reply;
      },
    };
    // Only the second shard's records are acknowledged.
    const acked = new Set(ids.filter((id) => id.startsWith(`${secondShard}:`)));
    const probe = acknowledgedProbe(new StreamTail(), acked);
    // Act
    const first = probe(cut);
    await expect(first).rejects.toThrow('connection reset');
    const second = await probe(cut);
    // Assess: the first shard's records, read by the cut call, are still open.
    expect(ids.some((id) => id.startsWith(`${firstShard}:`))).toBe(true);
    expect(second).toBe(false);
  });

  it('answers "every record acknowledged" from the records on the stream', async () => {
    // Prepare
    const { stream, put } = await twoShardStream();
    const ids = await putAll(put, texts('f', 10));
    const acked = new Set<string>(ids.slice(0, 9));
    const probe = acknowledgedProbe(new StreamTail(), acked);
    // Act / Assess: one open, then all, then a new record on the stream that is not.
    expect(await probe(stream)).toBe(false);
    acked.add(ids[9] as string);
    expect(await probe(stream)).toBe(true);
    await put('f-late');
    expect(await probe(stream)).toBe(false);
  });
});
