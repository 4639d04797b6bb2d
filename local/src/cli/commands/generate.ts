import { parse, positiveIntArgument } from '../args';
import { UsageError } from '../errors';
import type { Io } from '../io';
import { callApi } from '../stack-call';
import { requireRunningStack, resolveStateDir } from '../state-dir';

export const GENERATE_HELP = `Usage: claims-cdc generate N [--seed S] [--json] [--state-dir DIR]

Writes N generated claims to DynamoDB through the running stack's HTTP API (POST /claims/samples: the ingest
handler, as deployed behind API Gateway). Every write is captured and flows through the pipeline.
  --seed S          generator seed, 0 to 4294967295: the same seed gives the same claims (default: random)
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

  const claimIds: string[] = [];
  for (let done = 0, part = 0; done < n; done += PER_REQUEST, part += 1) {
    // Requests past the first get the next seeds, so a seeded run of any size is repeatable.
    const body = { count: Math.min(PER_REQUEST, n - done), ...(seed === undefined ? {} : { seed: (seed + part) % (MAX_SEED + 1) }) };
    const reply = await callApi<{ claimIds: string[] }>(stack, 'POST', '/claims/samples', body);
    claimIds.push(...reply.body.claimIds);
  }
  if (values.json) io.out(JSON.stringify({ claimIds }));
  else io.out(`generated ${claimIds.length} claim${claimIds.length === 1 ? '' : 's'}: ${claimIds.slice(0, 10).join(' ')}${claimIds.length > 10 ? ` … and ${claimIds.length - 10} more` : ''}`);
  return 0;
};
