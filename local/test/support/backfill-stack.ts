/**
 * Test helper for the backfill and repair tests: `claims-cdc up` in a child process on a fresh state directory, the
 * other commands run in this process (they only talk HTTP to the stack), and a captured DynamoDB client for the
 * application's own writes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { run } from '../../src/cli/main';
import type { PipelineStatus } from '../../src/inspect/pipeline-status';
import { readStackInfo } from '../../src/stack/stack-client';
import { killAllCliProcesses, startCli, type CliProcess } from './cli-process';

/** A command's exit code and output. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** One stack for one test file. */
export class BackfillStack {
  #stateDir: string | undefined;
  up: CliProcess | undefined;

  /**
   * The stack's state directory, made at first use: a file whose tests are all filtered out (`-t`) never runs its
   * afterAll, so a directory made when the file is read would be left behind.
   */
  get stateDir(): string {
    this.#stateDir ??= mkdtempSync(path.join(os.tmpdir(), 'claims-cdc-backfill-'));
    return this.#stateDir;
  }

  /** Starts (or restarts) `up` on the state directory. */
  async start(): Promise<void> {
    this.up = startCli(['up', '--state-dir', this.stateDir]);
    await this.up.waitForOutput(/^Ctrl-C stops the stack\.$/m, 120_000);
  }

  /** Stops `up` with Ctrl-C and waits for it. */
  async stop(): Promise<void> {
    this.up?.signal('SIGINT');
    await this.up?.exited;
    this.up = undefined;
  }

  /** Runs a claims-cdc command in this process against the stack. */
  async cli(...argv: string[]): Promise<CliResult> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await run([...argv, '--state-dir', this.stateDir], { out: (t) => out.push(t), err: (t) => err.push(t) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  async status(): Promise<PipelineStatus> {
    return (JSON.parse((await this.cli('status', '--json')).out) as { pipeline: PipelineStatus }).pipeline;
  }

  async sql<T = Record<string, unknown>>(query: string): Promise<T[]> {
    const result = await this.cli('sql', query, '--json');
    if (result.code !== 0) throw new Error(result.err);
    return JSON.parse(result.out) as T[];
  }

  /** A client of the stack's DynamoDB endpoint: the capture, so its writes flow through the pipeline. */
  capturedClient(): DynamoDBClient {
    return new DynamoDBClient({ endpoint: readStackInfo(this.stateDir)?.endpoints.dynamodb, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  }

  cleanup(): void {
    killAllCliProcesses();
    if (this.#stateDir !== undefined) rmSync(this.#stateDir, { recursive: true, force: true });
  }
}
