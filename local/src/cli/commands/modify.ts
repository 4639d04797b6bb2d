import { parse } from '../args';
import { UsageError } from '../errors';
import type { Io } from '../io';
import { callApi } from '../stack-call';
import { requireRunningStack, resolveStateDir } from '../state-dir';
import { claimIdArgument, claimStatus, paymentStatus } from './claim-args';

export const MODIFY_HELP = `Usage: claims-cdc modify CLAIM_ID --status STATUS [--payment STATUS] [--state-dir DIR]

Changes a claim's status in DynamoDB through the running stack's HTTP API (PATCH /claims/CLAIM_ID), like the
quickstart's edit in the DynamoDB console: the change flows through the pipeline as a MODIFY event.
  --status STATUS    Submitted, In Review, Approved, Rejected or Paid (case, spaces and dashes do not matter)
  --payment STATUS   Pending, Processing, Paid or Denied
  --state-dir DIR    the stack's state directory (default .claims-cdc)
Give --status, --payment or both.`;

/** `claims-cdc modify` */
export const modifyCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { status: { type: 'string' }, payment: { type: 'string' }, 'state-dir': { type: 'string' } }, MODIFY_HELP);
  if (values.help) {
    io.out(MODIFY_HELP);
    return 0;
  }
  const [id, ...extra] = positionals;
  const claimId = claimIdArgument(id, 'modify', MODIFY_HELP);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}' (quote a status with a space: --status "In Review")`);
  if (values.status === undefined && values.payment === undefined) throw new UsageError('modify needs --status STATUS and/or --payment STATUS');
  const change = {
    ...(values.status === undefined ? {} : { claimStatus: claimStatus(values.status) }),
    ...(values.payment === undefined ? {} : { paymentStatus: paymentStatus(values.payment) }),
  };
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));
  await callApi(stack, 'PATCH', `/claims/${claimId}`, change);
  io.out(`modified ${claimId}: ${Object.entries(change).map(([k, v]) => `${k} = ${v}`).join(', ')}`);
  return 0;
};
