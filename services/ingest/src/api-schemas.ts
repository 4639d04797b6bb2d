import { CLAIM_ID_PATTERN, CLAIM_STATUSES, PAYMENT_STATUSES } from '@claims-cdc/shared';
import { z } from 'zod';

/** Largest request body the API accepts. */
export const MAX_BODY_BYTES = 64 * 1024;

/** `POST /claims/samples` */
export const SamplesRequestSchema = z.strictObject({
  count: z.number().int().min(1).max(1000),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
});

/** `PATCH /claims/{claimId}` */
export const PatchRequestSchema = z
  .strictObject({ claimStatus: z.enum(CLAIM_STATUSES).optional(), paymentStatus: z.enum(PAYMENT_STATUSES).optional() })
  .refine((body) => body.claimStatus !== undefined || body.paymentStatus !== undefined, 'give claimStatus and/or paymentStatus');

/** The `{claimId}` path parameter. */
export const ClaimIdSchema = z.string().regex(CLAIM_ID_PATTERN, 'must be CLM- followed by 8 upper-case hex digits');

/** The path parameters of `/claims/{claimId}` (an object, so an issue names `claimId`). */
export const ClaimPathSchema = z.object({ claimId: ClaimIdSchema });
