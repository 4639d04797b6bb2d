/**
 * The environment that points every `new XClient({})` in this process at the stack's endpoints. Handlers read it when
 * their module loads, so it is applied before they are imported and restored when the stack stops.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import http from 'node:http';
import { LOCAL_CREDENTIALS } from './local-credentials';

/** Endpoints of the three services the pipeline uses. */
export interface AwsEndpoints {
  dynamodb: string;
  kinesis: string;
  sqs: string;
}

export { LOCAL_CREDENTIALS } from './local-credentials';

/** The variables the AWS SDK v3 reads for per-service endpoints, region and credentials. */
export function awsEnvironment(endpoints: Partial<AwsEndpoints>, region: string, withDummyCredentials: boolean): Record<string, string> {
  return {
    ...(endpoints.dynamodb ? { AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb } : {}),
    ...(endpoints.kinesis ? { AWS_ENDPOINT_URL_KINESIS: endpoints.kinesis } : {}),
    ...(endpoints.sqs ? { AWS_ENDPOINT_URL_SQS: endpoints.sqs } : {}),
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    ...(withDummyCredentials
      ? { AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey }
      : {}),
  };
}

/** Sets variables on process.env and returns a function that puts the previous values back. */
export function applyEnvironment(vars: Record<string, string>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(vars)) {
    previous.set(name, process.env[name]);
    process.env[name] = value;
  }
  return () => {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** SDK clients the stack itself uses (explicit endpoints: the stack is infrastructure, not a handler). */
export interface StackClients {
  dynamodb: DynamoDBClient;
  kinesis: KinesisClient;
  sqs: SQSClient;
  destroy(): void;
}

/**
 * Builds the stack's own clients. Kinesis goes over HTTP/1.1 (kinesalite and LocalStack both serve it; the SDK's
 * HTTP/2 default is only needed for SubscribeToShard), with keep-alive for the pollers' steady GetRecords.
 */
export function createStackClients(
  endpoints: Partial<AwsEndpoints>,
  region: string,
  credentials?: { accessKeyId: string; secretAccessKey: string },
): StackClients {
  const common = { region, ...(credentials ? { credentials } : {}) };
  const handler = () => new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }) });
  const at = (endpoint: string | undefined) => (endpoint ? { endpoint } : {});
  const dynamodb = new DynamoDBClient({ ...common, ...at(endpoints.dynamodb), requestHandler: handler() });
  const kinesis = new KinesisClient({ ...common, ...at(endpoints.kinesis), requestHandler: handler() });
  const sqs = new SQSClient({ ...common, ...at(endpoints.sqs), requestHandler: handler() });
  return {
    dynamodb,
    kinesis,
    sqs,
    destroy() {
      dynamodb.destroy();
      kinesis.destroy();
      sqs.destroy();
    },
  };
}
