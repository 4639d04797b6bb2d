/**
 * Entry point of one benchmark stage in its own process (so each stage's peak memory is its own):
 * `node --import tsx bench/stage-child.ts <stage> '<options JSON>'`. The report goes back over IPC.
 */
import { MemorySampler, secondsSince } from './measure';
import type { StageReport } from './results';
import { runEndToEnd } from './stages/end-to-end';
import { runLoad } from './stages/load';
import { runMerge } from './stages/merge';
import { runTransform } from './stages/transform';

const STAGES: Record<string, (options: never) => Promise<unknown>> = {
  transform: runTransform,
  merge: runMerge,
  load: runLoad,
  e2e: runEndToEnd,
};

const main = async (): Promise<void> => {
  const [name, json] = process.argv.slice(2);
  const stage = name === undefined ? undefined : STAGES[name];
  if (stage === undefined || json === undefined) throw new Error(`usage: stage-child.ts <${Object.keys(STAGES).join('|')}> '<options JSON>'`);
  const sampler = new MemorySampler();
  const start = process.hrtime.bigint();
  const result = await stage(JSON.parse(json) as never);
  const report: StageReport<unknown> = { result, ...sampler.stop(), wallSeconds: secondsSince(start) };
  if (process.send) await new Promise<void>((resolve, reject) => process.send?.(report, (error: Error | null) => (error ? reject(error) : resolve())));
  else process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`stage failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
