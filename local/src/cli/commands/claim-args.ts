import { CLAIM_ID_PATTERN, CLAIM_STATUSES, PAYMENT_STATUSES } from '@claims-cdc/shared';
import { UsageError } from '../../console/errors';

/** A CLAIM_ID argument, checked before anything is sent. */
export const claimIdArgument = (value: string | undefined, command: string, help: string): string => {
  if (value === undefined) throw new UsageError(`${command} needs a CLAIM_ID\n${help}`);
  if (!CLAIM_ID_PATTERN.test(value)) throw new UsageError(`CLAIM_ID must be CLM- followed by 8 upper-case hex digits, got '${value}'`);
  return value;
};

const squash = (text: string): string => text.toLowerCase().replace(/[\s_-]+/g, '');

/** One of `allowed`, matched without regard to case, spaces, dashes or underscores (`in-review` → `In Review`). */
export const choice = <T extends string>(value: string, allowed: readonly T[], option: string): T => {
  const found = allowed.find((a) => squash(a) === squash(value));
  if (!found) throw new UsageError(`--${option} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${value}'`);
  return found;
};

/** A `--status` value. */
export const claimStatus = (value: string) => choice(value, CLAIM_STATUSES, 'status');
/** A `--payment` value. */
export const paymentStatus = (value: string) => choice(value, PAYMENT_STATUSES, 'payment');
