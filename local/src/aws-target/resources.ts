/**
 * Where a deployed stage's resources are. Two sources behind one interface:
 * - `cloudformation` (the default): the Outputs of the stacks `claims-cdc-<service>-<stage>` that `serverless deploy`
 *   made, so a renamed table (the claimsTableName parameter) or the HTTP API's generated URL are found as deployed;
 * - `names`: the naming convention of serverless.common.yml (`claims-cdc-<stage>-…`), each name overridable from the
 *   environment, queue URLs looked up with SQS GetQueueUrl. For endpoints with no CloudFormation (LocalStack's free
 *   edition, the embedded emulators) and for callers not allowed cloudformation:DescribeStacks.
 * CLAIMS_CDC_RESOLVE=names|cloudformation chooses.
 */
import { GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { sqs } from './clients';
import { AwsTargetError } from './errors';

/** The queues of a stage, by the keys `status` uses. */
export interface StageQueues {
  /** Rows from transform to load. */
  load: string;
  /** Load messages that failed five receives. */
  loadDlq: string;
  /** Inputs the pipeline could not process, with their reason. */
  quarantine: string;
  /** The transform event source mapping's on-failure destination. */
  transformFailure: string;
}

/** Everything `--target aws` reads or writes, for one stage. */
export interface StageResources {
  readonly stage: string;
  /** Which source found them. */
  readonly source: 'cloudformation' | 'names';
  readonly tableName: string;
  readonly streamName: string;
  /** Queue URLs. */
  readonly queues: StageQueues;
  /** Base URL of the ingest HTTP API (undefined when the source cannot know it). */
  readonly apiUrl: string | undefined;
}

/** A way of finding a stage's resources. */
export interface ResourceSource {
  resolve(stage: string): Promise<StageResources>;
}

/** The stage names the services accept: CloudFormation stack names and queue names carry them. */
export const STAGE_PATTERN = /^[a-zA-Z0-9-]{1,40}$/;

/** The CloudFormation stack `serverless deploy` makes for a service (`service:` in its serverless.yml) and a stage. */
export const stackName = (service: 'ingest' | 'load' | 'transform', stage: string): string => `claims-cdc-${service}-${stage}`;

/** One output of a stack, as DescribeStacks returns it. */
export interface StackOutput {
  readonly OutputKey?: string | undefined;
  readonly OutputValue?: string | undefined;
}

/** The stream name of a Kinesis stream ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`). */
export const streamNameOfArn = (arn: string): string => {
  const name = /:stream\/([^/]+)$/.exec(arn)?.[1];
  if (!name) throw new AwsTargetError(`not a Kinesis stream ARN: '${arn}'`);
  return name;
};

/**
 * A stage's resources from the Outputs of its ingest, load and transform stacks (keys from their serverless.yml;
 * `HttpApiUrl` is the one the Framework adds for an HTTP API). Pure: throws naming the stack and output that is missing.
 */
export function resourcesFromOutputs(stage: string, outputs: Record<'ingest' | 'load' | 'transform', readonly StackOutput[]>): StageResources {
  const value = (service: keyof typeof outputs, key: string): string => {
    const found = outputs[service].find((o) => o.OutputKey === key)?.OutputValue;
    if (!found) throw new AwsTargetError(`stack ${stackName(service, stage)} has no output ${key}: deploy this version of services/${service}`);
    return found;
  };
  return {
    stage,
    source: 'cloudformation',
    tableName: value('ingest', 'ClaimsTableName'),
    streamName: streamNameOfArn(value('ingest', 'ClaimsStreamArn')),
    apiUrl: value('ingest', 'HttpApiUrl'),
    queues: {
      load: value('load', 'LoadQueueUrl'),
      loadDlq: value('load', 'LoadDeadLetterQueueUrl'),
      quarantine: value('transform', 'QuarantineQueueUrl'),
      transformFailure: value('transform', 'TransformFailedBatchesQueueUrl'),
    },
  };
}

/** Reads the stacks' Outputs with DescribeStacks. */
export class CloudFormationSource implements ResourceSource {
  /** `describe` (a stack's Outputs by stack name) defaults to DescribeStacks through one CloudFormation client, loaded on first use. */
  constructor(private readonly describe?: (stackName: string) => Promise<readonly StackOutput[]>) {}

  async resolve(stage: string): Promise<StageResources> {
    const describe = this.describe ?? (await defaultDescribe());
    const [ingest, load, transform] = await Promise.all((['ingest', 'load', 'transform'] as const).map((s) => describe(stackName(s, stage))));
    return resourcesFromOutputs(stage, { ingest: ingest ?? [], load: load ?? [], transform: transform ?? [] });
  }
}

let describeStacks: ((name: string) => Promise<readonly StackOutput[]>) | undefined;

/** DescribeStacks through the module's one CloudFormation client (created on first use). */
async function defaultDescribe(): Promise<(name: string) => Promise<readonly StackOutput[]>> {
  if (describeStacks) return describeStacks;
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({});
  describeStacks = async (name) => {
    try {
      const reply = await client.send(new DescribeStacksCommand({ StackName: name }));
      return reply.Stacks?.[0]?.Outputs ?? [];
    } catch (error) {
      const message = (error as Error).message.split('\n')[0];
      if (/does not exist/.test(message ?? '')) throw new AwsTargetError(`no stack ${name} in this account and region: is the stage deployed (npx osls-compose deploy --stage …)?`);
      throw new AwsTargetError(`cannot read stack ${name}: ${(error as Error).name}: ${message}`);
    }
  };
  return describeStacks;
}

/** The naming convention of serverless.common.yml, with environment overrides; queue URLs from GetQueueUrl. */
export class NamingConventionSource implements ResourceSource {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  async resolve(stage: string): Promise<StageResources> {
    const name = (suffix: string) => `claims-cdc-${stage}-${suffix}`;
    const [load, loadDlq, quarantine, transformFailure] = await Promise.all(
      [name('load'), name('load-dlq'), name('quarantine'), name('transform-failed-batches')].map((q) => queueUrl(q)),
    );
    return {
      stage,
      source: 'names',
      // The ingest service's claimsTableName parameter defaults to the quickstart's table name.
      tableName: this.env.CLAIMS_CDC_TABLE_NAME || 'InsuranceClaims',
      streamName: this.env.CLAIMS_CDC_STREAM_NAME || name('claim-changes'),
      apiUrl: this.env.CLAIMS_CDC_API_URL || undefined,
      queues: { load: load as string, loadDlq: loadDlq as string, quarantine: quarantine as string, transformFailure: transformFailure as string },
    };
  }
}

async function queueUrl(queueName: string): Promise<string> {
  try {
    const reply = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    if (!reply.QueueUrl) throw new AwsTargetError(`GetQueueUrl gave no URL for ${queueName}`);
    return reply.QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist || /NonExistentQueue|does not exist/i.test((error as Error).name + (error as Error).message)) {
      throw new AwsTargetError(`no queue ${queueName}: is the stage deployed in this account and region?`);
    }
    if (error instanceof AwsTargetError) throw error;
    throw new AwsTargetError(`cannot look up queue ${queueName}: ${(error as Error).name}: ${(error as Error).message.split('\n')[0]}`);
  }
}

/** The source CLAIMS_CDC_RESOLVE names (default `cloudformation`). */
export function resourceSourceFromEnv(env: NodeJS.ProcessEnv = process.env): ResourceSource {
  const choice = env.CLAIMS_CDC_RESOLVE || 'cloudformation';
  if (choice === 'cloudformation') return new CloudFormationSource();
  if (choice === 'names') return new NamingConventionSource(env);
  throw new AwsTargetError(`CLAIMS_CDC_RESOLVE must be cloudformation or names, not '${choice}'`);
}
