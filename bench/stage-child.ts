/**
 * Entry point of one benchmark stage in its own process (so each stage's peak memory is its own):
 * `node --import tsx bench/stage-child.ts <stage> '<options JSON>'`. The report goes back over IPC.
 */
import { MemorySampler, secondsSince } from './measure';
import type { StageReport } from './results';

type Stage = (options: never) => Promise<unknown>;
/** Each stage is imported only when it runs: a stage measures its own modules, and one stage's imports cannot stop another. */
const STAGES: Record<string, () => Promise<Stage>> = {
  transform: async () => (await import('./stages/transform')).runTransform,
  merge: async () => (await import('./stages/merge')).runMerge,
  load: async () => (await import('./stages/load')).runLoad,
  e2e: async () => (await import('./stages/end-to-end')).runEndToEnd,
};

const main = async (): Promise<void> => {
  const [name, json] = process.argv.slice(2);
  const loadStage = name === undefined ? undefined : STAGES[name];
  if (loadStage === undefined || json === undefined) throw new Error(`usage: stage-child.ts <${Object.keys(STAGES).join('|')}> '<options JSON>'`);
  const stage = await loadStage();
  const sampler = new MemorySampler();
  const start = process.hrtime.bigint();
  // The JSON is the options run.ts wrote for this very stage; `never` is the one type every stage's options accept, so
  // one table can hold stages of different options (the stages validate nothing themselves: run.ts built the options).
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
