import { randomInt } from 'node:crypto';
import { generateClaims } from '@claims-cdc/shared';
import { putUntracked, uncapturedClient } from '../../backfill/untracked-writer';
import type { StatusReply } from '../../inspect/stack-controls';
import { parse, positiveIntArgument } from '../../console/args';
import { CommandError, UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { LiveLine } from '../../console/live-line';
import { callApi, callControl } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../../aws-target/target-option';

export const GENERATE_HELP = `Usage: claims-cdc generate N [--seed S] [--untracked] [--json] [--state-dir DIR | --target aws --stage S]

Writes N generated claims to DynamoDB through the running stack's HTTP API (POST /claims/samples: the ingest
handler, as deployed behind API Gateway). Every write is captured and flows through the pipeline. Large N is sent
in requests of at most 1,000 claims (the API's cap), request k with seed S+k, with a progress line (written, rate,
ETA). If a request fails, it says how many claims were written and the command that writes the rest (writing a
claim of the same seed again changes nothing, so resuming is safe).
  --seed S          generator seed, 0 to 4294967295: the same seed gives the same claims (default: random, printed)
  --untracked       write the claims straight into the DynamoDB emulator, behind the capture: no change reaches the
                    stream, as for items written before the stream was turned on (\`claims-cdc backfill\` brings them)
  --json            print {"claimIds": [...]}
  --state-dir DIR   the stack's state directory (default .claims-cdc)
${TARGET_HELP}
                           (the deployed API, SigV4-signed; no --untracked)`;

/** The API takes at most this many claims per request. */
const PER_REQUEST = 1000;
const MAX_SEED = 0xffffffff;

/** `claims-cdc generate` */
export const generateCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { seed: { type: 'string' }, untracked: { type: 'boolean' }, json: { type: 'boolean' }, 'state-dir': { type: 'string' }, ...TARGET_OPTIONS }, GENERATE_HELP);
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
  const stage = awsStageOf(values);
  if (stage !== undefined && values.untracked) throw new UsageError('--untracked writes behind the local capture; a deployed table has none to go behind');

  const used = seed ?? randomInt(MAX_SEED + 1);
  const writer = stage === undefined ? await localWriter(requireRunningStack(resolveStateDir(values['state-dir'])), values.untracked === true) : { write: await viaStageApi(stage), close: () => undefined };
  const live = values.json ? undefined : new LiveLine(io, 2_000);
  let claimIds: string[];
  try {
    claimIds = await writeInRequests(writer.write, n, used, live, values.untracked ? ' --untracked' : stage === undefined ? '' : ` --target aws --stage ${stage}`);
  } finally {
    writer.close();
  }
  if (values.json) io.out(JSON.stringify({ claimIds }));
  else io.out(`generated ${claimIds.length}${values.untracked ? ' untracked' : ''} claim${claimIds.length === 1 ? '' : 's'} (seed ${used}): ${claimIds.slice(0, 10).join(' ')}${claimIds.length > 10 ? ` … and ${claimIds.length - 10} more` : ''}`);
  return 0;
};

/** Writes `count` claims of generator seed `seed`; resolves with their ids. */
type WriteClaims = (count: number, seed: number) => Promise<string[]>;

/** Through the API (captured, like every application write). */
const viaApi =
  (stack: Parameters<typeof callApi>[0]): WriteClaims =>
  async (count, seed) =>
    (await callApi<{ claimIds: string[] }>(stack, 'POST', '/claims/samples', { count, seed })).body.claimIds;

/** Through the running stack's API, or behind its capture with `untracked`. */
const localWriter = async (stack: ReturnType<typeof requireRunningStack>, untracked: boolean): Promise<{ write: WriteClaims; close: () => void }> =>
  untracked ? untrackedWriter(stack) : { write: viaApi(stack), close: () => undefined };

/** Through a deployed stage's API, SigV4-signed. */
const viaStageApi = async (stage: string): Promise<WriteClaims> => {
  const api = await onAwsTarget((aws) => aws.stageApi(stage));
  return (count, seed) => onAwsTarget(async () => (await api<{ claimIds: string[] }>('POST', '/claims/samples', { count, seed })).body.claimIds);
};

/** Straight into the emulator: the same claims the API writes for a seed, but no change reaches the stream. */
async function untrackedWriter(stack: ReturnType<typeof requireRunningStack>): Promise<{ write: WriteClaims; close: () => void }> {
  if (!stack.dynamodbUncaptured) throw new CommandError(`the stack at ${stack.apiUrl} publishes no uncaptured DynamoDB endpoint (external endpoints, or an older \`claims-cdc up\`); restart it with this version`);
  const status = await callControl<StatusReply>(stack, 'status');
  const client = uncapturedClient(stack.dynamodbUncaptured, status.resources.table.arn.split(':')[3] ?? 'us-east-1');
  const write: WriteClaims = async (count, seed) => {
    const claims = generateClaims(count, seed);
    await putUntracked(client, status.tableName, claims);
    return claims.map((c) => c.claim_id);
  };
  return { write, close: () => client.destroy() };
}

/** Writes `n` claims in requests of {@link PER_REQUEST}, request k seeded `seed + k`, showing progress on `live`. */
async function writeInRequests(write: WriteClaims, n: number, seed: number, live: LiveLine | undefined, flag: string): Promise<string[]> {
  const claimIds: string[] = [];
  const started = Date.now();
  for (let done = 0, part = 0; done < n; done += PER_REQUEST, part += 1) {
    // Requests past the first get the next seeds, so a seeded run of any size is repeatable and resumable.
    const partSeed = (seed + part) % (MAX_SEED + 1);
    try {
      claimIds.push(...(await write(Math.min(PER_REQUEST, n - done), partSeed)));
    } catch (error) {
      live?.clear();
      const why = error instanceof Error ? error.message : String(error);
      throw new CommandError(`wrote ${done} of ${n} claims (seed ${seed}), then: ${why}; to write the rest: claims-cdc generate ${n - done} --seed ${partSeed}${flag}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const rate = claimIds.length / Math.max(seconds, 0.001);
    live?.update(`generating: ${claimIds.length}/${n} claims · ${Math.round(rate)}/s · ETA ${Math.ceil((n - claimIds.length) / Math.max(rate, 1))} s`);
  }
  live?.clear();
  return claimIds;
}
