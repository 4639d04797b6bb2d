/**
 * The messages between the stack and its AWS processes (aws-process.ts, aws-process-client.ts), in their own module so
 * that the parent can name them without loading the child's entry point.
 */
import type { CaptureStats } from './ddb-kinesis-capture';

/**
 * What one AWS process runs: `dynamodb` is dynalite alone; `stream` is kinesalite (with its HTTP/2 front door) and
 * the DynamoDB → Kinesis capture in front of the `dynamodb` process. Two processes, so that DynamoDB's work and the
 * capture's can each have a core.
 */
export type AwsProcessRole = 'dynamodb' | 'stream';

/** Ports one AWS process listens on (a restarted process asks for the ones it had, so clients keep their endpoints). */
export interface AwsProcessPorts {
  dynamodb?: number;
  kinesis?: number;
  kinesisHttp2?: number;
  capture?: number;
}

/** What the parent asks for. */
export interface AwsProcessOptions {
  role: AwsProcessRole;
  region: string;
  /** State directory: the emulator's store and the capture journal live there; absent: all in memory. */
  dataDir?: string;
  ports?: AwsProcessPorts;
  /** `stream`: table name → stream name, as the capture's `destinations`. */
  destinations?: Record<string, string>;
  /** `stream`: the `dynamodb` process's endpoint (dynalite), which the capture forwards to. */
  dynamodbEndpoint?: string;
}

/** Endpoints a process serves (`dynamodb`: dynamodb; `stream`: capture, kinesis, kinesisHttp1). */
export interface AwsProcessEndpoints {
  /** dynalite itself: writes here are not captured. */
  dynamodb?: string;
  /** The capture proxy in front of dynalite: what every DynamoDB client uses. */
  capture?: string;
  kinesis?: string;
  kinesisHttp1?: string;
}

/** Messages from a process to its parent (`stats` only from the `stream` process). */
export type AwsProcessEvent =
  | { type: 'ready'; endpoints: AwsProcessEndpoints; ports: AwsProcessPorts; stats?: CaptureStats }
  | { type: 'stats'; stats: CaptureStats }
  | { type: 'reply'; id: number; stats?: CaptureStats; error?: string }
  | { type: 'failed'; error: string };

/**
 * Messages from the parent (`flush` only to the `stream` process). `kill` is the first half of a kill: the capture
 * dies as a killed process would (connections cut, nothing emitted, journaled or acknowledged any more) and reports
 * its final counters; the parent then SIGKILLs the process.
 */
export type AwsProcessCommand = { type: 'flush'; id: number } | { type: 'stop'; id: number } | { type: 'kill'; id: number };

/** Environment variable carrying AwsProcessOptions. */
export const AWS_PROCESS_OPTIONS_ENV = 'CLAIMS_CDC_AWS_PROCESS';
