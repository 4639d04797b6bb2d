import { randomInt } from 'node:crypto';
import { parse, positiveIntArgument } from '../args';
import { CommandError, UsageError } from '../errors';
import type { Io } from '../io';
import { LiveLine } from '../live-line';
import { callApi } from '../stack-call';
import { requireRunningStack, resolveStateDir } from '../state-dir';

export const GENERATE_HELP = `Usage: claims-cdc generate N [--seed S] [--json] [--state-dir DIR]

Writes N generated claims to DynamoDB through the running stack's HTTP API (POST /claims/samples: the ingest
handler, as deployed behind API Gateway). Every write is captured and flows through the pipeline. Large N is sent
in requests of at most 1,000 claims (the API's cap), request k with seed S+k, with a progress line (written, rate,
ETA). If a request fails, it says how many claims were written and the command that writes the rest (writing a
claim of the same seed again changes nothing, so resuming is safe).
  --seed S          generator seed, 0 to 4294967295: the same seed gives the same claims (default: random, printed)
  --json            print {"claimIds": [...]}
  --state-dir DIR   the stack's state directory (default .claims-cdc)`;

/** The API takes at most this many claims per request. */
const PER_REQUEST = 1000;
const MAX_SEED = 0xffffffff;

/** `claims-cdc generate` */
export const generateCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { seed: { type: 'string' }, json: { type: 'boolean' }, 'state-dir': { type: 'string' } }, GENERATE_HELP);
  if (values.help) {
    io.out(GENERATE_HELP);
    return 0;
  }
  const [count, ...extra] = positionals;
  if (count === undefined) throw new UsageError(`generate needs N, the number of claims\n${GENERATE_HELP}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const n = positiveIntArgument(count, 'N');
  const seed = values.seed === undefined ? undefined : Number(values.seed);
  if (seed !== undefined && (!/^\d+$/.test(String(values.seed)) || seed > MAX_SEED)) throw new UsageError(`--seed must be an integer from 0 to ${MAX_SEED}, got '${String(values.seed)}'`);
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));

  const used = seed ?? randomInt(MAX_SEED + 1);
  const claimIds = await writeInRequests(stack, n, used, values.json ? undefined : new LiveLine(io, 2_000));
  if (values.json) io.out(JSON.stringify({ claimIds }));
  else io.out(`generated ${claimIds.length} claim${claimIds.length === 1 ? '' : 's'} (seed ${used}): ${claimIds.slice(0, 10).join(' ')}${claimIds.length > 10 ? ` … and ${claimIds.length - 10} more` : ''}`);
  return 0;
};

/** Sends `n` claims in requests of {@link PER_REQUEST}, request k seeded `seed + k`, showing progress on `live`. */
async function writeInRequests(stack: Parameters<typeof callApi>[0], n: number, seed: number, live: LiveLine | undefined): Promise<string[]> {
  const claimIds: string[] = [];
  const started = Date.now();
  for (let done = 0, part = 0; done < n; done += PER_REQUEST, part += 1) {
    // Requests past the first get the next seeds, so a seeded run of any size is repeatable and resumable.
    const partSeed = (seed + part) % (MAX_SEED + 1);
    try {
      const reply = await callApi<{ claimIds: string[] }>(stack, 'POST', '/claims/samples', { count: Math.min(PER_REQUEST, n - done), seed: partSeed });
      claimIds.push(...reply.body.claimIds);
    } catch (error) {
      live?.clear();
      const why = error instanceof Error ? error.message : String(error);
      throw new CommandError(`wrote ${done} of ${n} claims (seed ${seed}), then: ${why}; to write the rest: claims-cdc generate ${n - done} --seed ${partSeed}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const rate = claimIds.length / Math.max(seconds, 0.001);
    live?.update(`generating: ${claimIds.length}/${n} claims · ${Math.round(rate)}/s · ETA ${Math.ceil((n - claimIds.length) / Math.max(rate, 1))} s`);
  }
  live?.clear();
  return claimIds;
}
