import { SQSClient } from '@aws-sdk/client-sqs';
import { tracer } from '@claims-cdc/shared/observability/tracer';

/** The service's one SQS client; its endpoint comes from AWS_ENDPOINT_URL_SQS when set. */
export const sqs = tracer.captureAWSv3Client(new SQSClient({}));
