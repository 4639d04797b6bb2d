import type { VerifyResult } from '../../inspect/verify';
import { describeRepair, describeVerify } from '../../inspect/verify-format';
import type { RepairResult } from '../../inspect/verify-repair';
import { parse } from '../../console/args';
import { UsageError } from '../../console/errors';
import type { Io } from '../../console/io';
import { callControl } from '../../console/stack-call';
import { requireRunningStack, resolveStateDir } from '../../console/state-dir';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../../aws-target/target-option';

export const VERIFY_HELP = `Usage: claims-cdc verify [--repair] [--json] [--settle SECONDS] [--state-dir DIR | --target aws --stage S]

Compares DynamoDB with the destination table row by row: every item is flattened by the column registry, as the
pipeline flattens it, and compared column by column with its destination row. Reports claims missing from the
destination, rows with no item, and rows that differ (claim ids and column names only: values are PHI).
Claims the pipeline cannot process are reported with the ids of their quarantine entries.
Exit status: 0 when they match, 1 when they differ (or the check could not run).
  --repair            send every claim that is missing, extra, differing or duplicated through the pipeline again,
                      as DynamoDB holds it now (a snapshot, or a delete for an item it no longer has), then verify
                      again once the pipeline settled; quarantined claims are reported, not repaired. Exit status 0
                      when the second verify matches
  --json              print the report as JSON
  --settle SECONDS    first wait up to this long for changes in flight to arrive (default 15)
  --state-dir DIR     the stack's state directory (default .claims-cdc)
${TARGET_HELP}
                           (settles on an empty load queue and nothing staged; no --repair)`;

/** `claims-cdc verify` */
export const verifyCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, repair: { type: 'boolean' }, settle: { type: 'string' }, 'state-dir': { type: 'string' }, ...TARGET_OPTIONS }, VERIFY_HELP);
  if (values.help) {
    io.out(VERIFY_HELP);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const settle = values.settle === undefined ? 15 : Number(values.settle);
  if (!Number.isFinite(settle) || settle < 0 || settle > 120) throw new UsageError(`--settle must be a number of seconds from 0 to 120, got '${String(values.settle)}'`);
  const stage = awsStageOf(values);
  if (stage !== undefined) {
    if (values.repair) throw new UsageError('--repair is for the running stack; with --target aws, verify reports and changes nothing');
    const result = await onAwsTarget((aws) => aws.stageVerify(stage, Math.round(settle * 1000)));
    if (values.json) io.out(JSON.stringify(result));
    else for (const line of describeVerify(result)) io.out(line);
    return result.ok ? 0 : 1;
  }
  const stack = requireRunningStack(resolveStateDir(values['state-dir']));
  if (values.repair) {
    const repair = await callControl<RepairResult>(stack, 'verify', { settleMs: Math.round(settle * 1000), repair: true }, (2 * settle + 240) * 1000);
    if (values.json) io.out(JSON.stringify(repair));
    else for (const line of describeRepair(repair)) io.out(line);
    return repair.after.ok ? 0 : 1;
  }
  const result = await callControl<VerifyResult>(stack, 'verify', { settleMs: Math.round(settle * 1000) }, (settle + 120) * 1000);
  if (values.json) io.out(JSON.stringify(result));
  else for (const line of describeVerify(result)) io.out(line);
  return result.ok ? 0 : 1;
};
