/**
 * What the roles of the stack's AWS processes (aws-process.ts) share: what a started role hands back, and the way
 * to its parent.
 */
import type { AwsProcessEvent, AwsProcessOptions } from './aws-process-protocol';
import type { CaptureStats } from './ddb-kinesis-capture';

/** What a role started: its endpoints and how to stop it. */
export interface Started {
  ready: Extract<AwsProcessEvent, { type: 'ready' }>;
  stop(): Promise<void>;
  flush?(): Promise<void>;
  kill?(): Promise<void>;
  stats?(): CaptureStats;
}

/** Sends an event to the parent, while it is there to read it. */
export const send = (event: AwsProcessEvent): void => {
  if (process.connected) process.send?.(event);
};
/** The port of a loopback URL. */
export const portOf = (url: string): number => Number(new URL(url).port);
/** The data directory option, when there is one. */
export const dataDirOf = (options: AwsProcessOptions) => (options.dataDir ? { dataDir: options.dataDir } : {});
