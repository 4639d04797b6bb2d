import { parse } from '../../console/args';
import { UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { callApi } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../../aws-target/target-option';
import { claimIdArgument, claimStatus, paymentStatus } from './claim-args';

export const MODIFY_HELP = `Usage: claims-cdc modify CLAIM_ID --status STATUS [--payment STATUS] [--state-dir DIR | --target aws --stage S]

Changes a claim's status in DynamoDB through the running stack's HTTP API (PATCH /claims/CLAIM_ID), like the
quickstart's edit in the DynamoDB console: the change flows through the pipeline as a MODIFY event.
  --status STATUS    Submitted, In Review, Approved, Rejected or Paid (case, spaces and dashes do not matter)
  --payment STATUS   Pending, Processing, Paid or Denied
  --state-dir DIR    the stack's state directory (default .claims-cdc)
${TARGET_HELP}
Give --status, --payment or both.`;

/** `claims-cdc modify` */
export const modifyCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { status: { type: 'string' }, payment: { type: 'string' }, 'state-dir': { type: 'string' }, ...TARGET_OPTIONS }, MODIFY_HELP);
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
  const stage = awsStageOf(values);
  if (stage === undefined) await callApi(requireRunningStack(resolveStateDir(values['state-dir'])), 'PATCH', `/claims/${claimId}`, change);
  else await onAwsTarget(async (aws) => (await aws.stageApi(stage))('PATCH', `/claims/${claimId}`, change));
  io.out(`modified ${claimId}: ${Object.entries(change).map(([k, v]) => `${k} = ${v}`).join(', ')}`);
  return 0;
};
