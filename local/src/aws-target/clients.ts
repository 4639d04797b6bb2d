/**
 * The SDK clients of `--target aws`: one per service, at module scope (DEVELOPERS.md, style rule 4). Endpoints,
 * region and credentials come from the caller's environment and the default provider chain (`AWS_PROFILE`,
 * `AWS_ENDPOINT_URL_SQS`, …), never from code: the same module talks to a real account or to emulators standing in.
 * CloudFormation's client is created on first use (see resources.ts), so the naming-convention source never loads it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { SQSClient } from '@aws-sdk/client-sqs';

/** DynamoDB: scans and counts of the claims table. */
export const dynamodb = new DynamoDBClient({});
/** SQS: queue depths, quarantine peeks, re-drives to the load queue. */
export const sqs = new SQSClient({});
/** Kinesis: the stream's summary, re-drives to the stream. */
export const kinesis = new KinesisClient({});
