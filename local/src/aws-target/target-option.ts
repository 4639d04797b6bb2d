/**
 * The `--target aws --stage S` options of the commands, and the door into this feature: commands import this small
 * module, and the rest of the feature (the AWS SDK clients among it) loads only when a command is run with them.
 */
import { CommandError, UsageError } from '../console/errors';

/** The `--target` and `--stage` options, for `parse`. */
export const TARGET_OPTIONS = { target: { type: 'string' }, stage: { type: 'string' } } as const;

/** The help lines of {@link TARGET_OPTIONS}. */
export const TARGET_HELP = `  --target aws --stage S   the deployed stage S instead of the running stack, with your AWS credentials
                           (README, "Against a deployed stage")`;

/**
 * The stage of `--target aws --stage S`, or undefined without `--target` (the running stack). `--state-dir` names a
 * local stack, so it does not go with `--target aws`.
 */
export function awsStageOf(values: { target?: string | boolean | undefined; stage?: string | boolean | undefined; 'state-dir'?: string | boolean | undefined }): string | undefined {
  if (values.target === undefined) {
    if (values.stage !== undefined) throw new UsageError('--stage goes with --target aws');
    return undefined;
  }
  if (values.target !== 'aws') throw new UsageError(`--target must be aws (the running stack is the default), got '${String(values.target)}'`);
  if (typeof values.stage !== 'string' || values.stage === '') throw new UsageError('--target aws needs --stage S (the stage you deployed: npx osls-compose deploy --stage S)');
  if (values['state-dir'] !== undefined) throw new UsageError('--state-dir names a local stack: give it or --target aws, not both');
  return values.stage;
}

type AwsTarget = typeof import('./index');

/**
 * Runs `use` with the aws-target feature, loaded only now (a local command never loads it). Its errors, and a
 * re-drive's refusal, become one-line command errors.
 */
export async function onAwsTarget<T>(use: (target: AwsTarget) => Promise<T>): Promise<T> {
  const target = await import('./index');
  const { RedriveRejectedError } = await import('../quarantine/redrive');
  try {
    return await use(target);
  } catch (error) {
    if (error instanceof target.AwsTargetError || error instanceof RedriveRejectedError) throw new CommandError(error.message);
    throw error;
  }
}
