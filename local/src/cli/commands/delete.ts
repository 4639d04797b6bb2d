import { parse } from '../args';
import { UsageError } from '../errors';
import type { Io } from '../io';
import { callApi } from '../stack-call';
import { requireRunningStack, resolveStateDir } from '../state-dir';
import { claimIdArgument } from './claim-args';

export const DELETE_HELP = `Usage: claims-cdc delete CLAIM_ID [--state-dir DIR]

Deletes a claim from DynamoDB through the running stack's HTTP API (DELETE /claims/CLAIM_ID): the deletion flows
through the pipeline as a REMOVE event and the claim leaves the destination table.
  --state-dir DIR   the stack's state directory (default .claims-cdc)`;

/** `claims-cdc delete` */
export const deleteCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { 'state-dir': { type: 'string' } }, DELETE_HELP);
  if (values.help) {
    io.out(DELETE_HELP);
    return 0;
  }
  const [id, ...extra] = positionals;
  const claimId = claimIdArgument(id, 'delete', DELETE_HELP);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));
  await callApi(stack, 'DELETE', `/claims/${claimId}`);
  io.out(`deleted ${claimId}`);
  return 0;
};
