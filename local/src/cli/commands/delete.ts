import { parse } from '../../console/args';
import { UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { callApi } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../../aws-target/target-option';
import { claimIdArgument } from './claim-args';

export const DELETE_HELP = `Usage: claims-cdc delete CLAIM_ID [--state-dir DIR | --target aws --stage S]

Deletes a claim from DynamoDB through the running stack's HTTP API (DELETE /claims/CLAIM_ID): the deletion flows
through the pipeline as a REMOVE event and the claim leaves the destination table.
  --state-dir DIR   the stack's state directory (default .claims-cdc)
${TARGET_HELP}`;

/** `claims-cdc delete` */
export const deleteCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { 'state-dir': { type: 'string' }, ...TARGET_OPTIONS }, DELETE_HELP);
  if (values.help) {
    io.out(DELETE_HELP);
    return 0;
  }
  const [id, ...extra] = positionals;
  const claimId = claimIdArgument(id, 'delete', DELETE_HELP);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const stage = awsStageOf(values);
  if (stage === undefined) await callApi(requireRunningStack(resolveStateDir(values['state-dir'])), 'DELETE', `/claims/${claimId}`);
  else await onAwsTarget(async (aws) => (await aws.stageApi(stage))('DELETE', `/claims/${claimId}`));
  io.out(`deleted ${claimId}`);
  return 0;
};
