import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { tracer } from '@claims-cdc/shared/observability/tracer';

/** The service's one SQS client (quarantine queue; the backfill's load queue); endpoint from AWS_ENDPOINT_URL_SQS when set. */
export const sqs = tracer.captureAWSv3Client(new SQSClient({}));

/** The service's one DynamoDB client (the backfill's Scan); endpoint from AWS_ENDPOINT_URL_DYNAMODB when set. */
export const dynamodb = tracer.captureAWSv3Client(new DynamoDBClient({}));
