import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tracer } from '@claims-cdc/shared/observability/tracer';

/** The service's one DynamoDB client; endpoint from AWS_ENDPOINT_URL_DYNAMODB when set. */
export const dynamodb = tracer.captureAWSv3Client(new DynamoDBClient({}));
