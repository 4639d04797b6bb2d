/**
 * Where `up --endpoint` points the stack: one URL for every service (LocalStack's model), with the per-service
 * variables the AWS SDK honours (AWS_ENDPOINT_URL_DYNAMODB, _KINESIS, _SQS) taking precedence, as they do in the SDK.
 */
import type { AwsEndpoints } from '../../stack/aws-env';
import { UsageError } from '../../console/errors';

/** The services the pipeline uses and the variable the SDK reads for each one's endpoint. */
const SERVICE_VARIABLES: Record<keyof AwsEndpoints, string> = {
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  kinesis: 'AWS_ENDPOINT_URL_KINESIS',
  sqs: 'AWS_ENDPOINT_URL_SQS',
};

/**
 * The external endpoints `up` should use, or undefined to start the embedded emulators. `--endpoint URL` (else
 * AWS_ENDPOINT_URL) is the default for every service; a per-service variable overrides it for its service. Every
 * service needs an endpoint: a service left out would silently go to real AWS.
 */
export function externalEndpoints(flag: string | undefined, env: NodeJS.ProcessEnv): AwsEndpoints | undefined {
  const base = flag ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const own = (service: keyof AwsEndpoints) => nonEmpty(env[SERVICE_VARIABLES[service]]);
  const services = Object.keys(SERVICE_VARIABLES) as (keyof AwsEndpoints)[];
  if (base === undefined && services.every((service) => own(service) === undefined)) return undefined;
  const missing = services.filter((service) => (own(service) ?? base) === undefined).map((service) => SERVICE_VARIABLES[service]);
  if (missing.length > 0) {
    throw new UsageError(`no endpoint for ${missing.join(', ')}: give --endpoint URL (or AWS_ENDPOINT_URL) for every service, or set ${missing.join(' and ')}`);
  }
  const resolve = (service: keyof AwsEndpoints): string => {
    const mine = own(service);
    if (mine !== undefined) return checkedUrl(mine, SERVICE_VARIABLES[service]);
    return checkedUrl(base!, flag !== undefined ? '--endpoint' : 'AWS_ENDPOINT_URL');
  };
  return { dynamodb: resolve('dynamodb'), kinesis: resolve('kinesis'), sqs: resolve('sqs') };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** An http(s) URL without a path (the SDK appends none), else a usage error naming where it came from. */
function checkedUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${source} must be a URL such as http://localhost:4566, got '${value}'`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${source} must be an http:// or https:// URL, got '${value}'`);
  return value.replace(/\/+$/, '');
}
