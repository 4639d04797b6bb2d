/**
 * `claims-cdc status --target aws`: where the changes of a deployed stage are, from what the services themselves
 * report: the table's items (a COUNT scan), the stream's summary, every queue's approximate depth, and the warehouse's
 * staging, history and destination counts. What only the Lambda service knows (records read and not done, calls in
 * flight, the transform's iterator age) is in CloudWatch, and the status says so rather than guess.
 */
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { countItems } from '../inspect/dynamodb-scan';
import { dynamodb, kinesis, sqs } from './clients';
import type { StageQueues, StageResources } from './resources';
import type { StageWarehouse } from './warehouse';

/** A queue's approximate depth, as SQS reports it. */
export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** A deployed stage's status: counts only, never a claim's contents. */
export interface AwsStageStatus {
  takenAt: number;
  stage: string;
  resources: StageResources;
  warehouse: string;
  items: number;
  stream: { name: string; status: string; openShards: number; retentionHours: number };
  queues: Record<keyof StageQueues, QueueDepth>;
  staged: number;
  history: number;
  destination: number;
  tombstones: number;
  oldestUnmergedAgeSeconds: number | null;
}

async function depthOf(queueUrl: string): Promise<QueueDepth> {
  const reply = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }),
  );
  const n = (name: string) => Number(reply.Attributes?.[name as keyof typeof reply.Attributes] ?? 0);
  return { visible: n('ApproximateNumberOfMessages'), inFlight: n('ApproximateNumberOfMessagesNotVisible'), delayed: n('ApproximateNumberOfMessagesDelayed') };
}

/** Takes the status of a deployed stage. */
export async function collectStageStatus(resources: StageResources, warehouse: StageWarehouse): Promise<AwsStageStatus> {
  const keys = Object.keys(resources.queues) as (keyof StageQueues)[];
  const [items, stream, depths, wh] = await Promise.all([
    countItems(dynamodb, resources.tableName),
    kinesis.send(new DescribeStreamSummaryCommand({ StreamName: resources.streamName })),
    Promise.all(keys.map((k) => depthOf(resources.queues[k]))),
    warehouse.warehouse.status(),
  ]);
  const takenAt = Date.now();
  const summary = stream.StreamDescriptionSummary;
  return {
    takenAt,
    stage: resources.stage,
    resources,
    warehouse: warehouse.description,
    items,
    stream: { name: resources.streamName, status: summary?.StreamStatus ?? 'unknown', openShards: summary?.OpenShardCount ?? 0, retentionHours: summary?.RetentionPeriodHours ?? 0 },
    queues: Object.fromEntries(keys.map((k, i) => [k, depths[i] as QueueDepth])) as Record<keyof StageQueues, QueueDepth>,
    staged: wh.staged,
    history: wh.history,
    destination: wh.destination,
    tombstones: wh.tombstones,
    oldestUnmergedAgeSeconds: wh.oldestStagedMicros === null ? null : Math.max(0, (takenAt * 1000 - wh.oldestStagedMicros) / 1_000_000),
  };
}

const depth = (d: QueueDepth): string => `${d.visible} waiting, ${d.inFlight} in flight${d.delayed > 0 ? `, ${d.delayed} delayed` : ''}`;

/** The status as aligned `stage  value` lines. */
export function stageStatusLines(s: AwsStageStatus): string[] {
  const q = s.queues;
  const rows: [string, string][] = [
    ['stage', `${s.stage} (resources from ${s.resources.source === 'cloudformation' ? 'CloudFormation outputs' : 'the naming convention'})`],
    ['DynamoDB', `${s.items} items in ${s.resources.tableName}`],
    ['stream', `${s.stream.name}: ${s.stream.status}, ${s.stream.openShards} open shard${s.stream.openShards === 1 ? '' : 's'}, ${s.stream.retentionHours} h retention (the transform's lag: its IteratorAge metric in CloudWatch)`],
    ['load queue', depth(q.load)],
    ['dead letters', `load DLQ ${depth(q.loadDlq)} · transform on-failure ${depth(q.transformFailure)}`],
    ['staged', `${s.staged} rows not merged yet`],
    ['history', `${s.history} rows`],
    ['destination', `${s.destination} rows`],
    ['quarantined', `${q.quarantine.visible + q.quarantine.inFlight} messages${q.quarantine.visible + q.quarantine.inFlight > 0 ? ` (claims-cdc quarantine list --target aws --stage ${s.stage} shows them)` : ''}`],
    ['oldest unmerged', s.oldestUnmergedAgeSeconds === null ? '- (nothing staged)' : `${s.oldestUnmergedAgeSeconds.toFixed(1)} s`],
    ['warehouse', s.warehouse],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}
