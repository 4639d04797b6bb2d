/**
 * The API's boundary: one way to read a request's parts through a zod schema, and one reply shape for refusals.
 *
 * Why not the router's own `validation` option: its body parsing reads JSON only when the request says
 * `content-type: application/json` (any other body reaches the schema as a string) and a failure answers 422 with
 * its own body. This API has always read the body as JSON whatever the content type and answered 400 `{ message }`,
 * and its clients (the CLI, `curl -d` without `-H`) rely on that, so the parsing stays here, in one small function.
 */
import { describeIssues } from '@claims-cdc/shared';
import { BadRequestError, RequestEntityTooLargeError } from '@aws-lambda-powertools/event-handler/http';
import type { z } from 'zod';
import { MAX_BODY_BYTES } from './api-schemas';

/**
 * `value` checked against `schema`, or a 400 whose message names the paths and rules that failed (never the
 * values, so no PHI reaches the reply or a log).
 */
export const validated = <S extends z.ZodType>(schema: S, value: unknown): z.infer<S> => {
  const result = schema.safeParse(value);
  if (!result.success) throw new BadRequestError(describeIssues(result.error));
  return result.data;
};

/** The request's body as JSON, checked against `schema`: 413 over {@link MAX_BODY_BYTES}, 400 if not JSON or invalid. */
export const jsonBody = async <S extends z.ZodType>(req: Request, schema: S): Promise<z.infer<S>> => {
  // The router has already decoded a base64 body (isBase64Encoded) into this Request.
  const raw = await req.text();
  if (Buffer.byteLength(raw) > MAX_BODY_BYTES) throw new RequestEntityTooLargeError(`request body larger than ${MAX_BODY_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
  return validated(schema, parsed);
};

/**
 * The API's reply to a request it refuses: the status and `{ message }` as JSON. A web `Response`, which the router
 * sends as is (a plain object returned from an error handler would get a `statusCode` field added to its body).
 */
export const refusal = (status: number, message: string): Response => Response.json({ message }, { status });
