import { callStackControl, StackControlError, type StackInfo } from '../stack/stack-client';
import { readApiReply, type ApiReply } from './api-reply';
import { CommandError } from './errors';

/**
 * Calls a control route of the running stack; every failure becomes a one-line CommandError (the stack answers
 * with a message, never row values).
 */
export const callControl = async <T>(stack: StackInfo, name: string, body?: unknown, timeoutMs = 120_000): Promise<T> => {
  try {
    return await callStackControl<T>(stack, name, body, { timeoutMs });
  } catch (error) {
    if (error instanceof StackControlError) {
      if (error.statusCode === 404) throw new CommandError(`the stack at ${stack.apiUrl} has no '${name}' route; restart it with this version of \`claims-cdc up\``);
      throw new CommandError(error.statusCode === 0 ? error.message : error.message.replace(new RegExp(`^${name}: `), ''));
    }
    throw error;
  }
};

/**
 * Calls the running stack's HTTP API (the ingest handler, exactly as behind API Gateway) with its token.
 * Non-2xx replies become a one-line CommandError carrying the API's message.
 */
export const callApi = async <T>(stack: Pick<StackInfo, 'apiUrl' | 'token'>, method: string, pathname: string, body?: unknown): Promise<ApiReply<T>> => {
  let response: Response;
  try {
    response = await fetch(new URL(pathname, stack.apiUrl), {
      method,
      headers: { authorization: `Bearer ${stack.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    throw new CommandError(`cannot reach the stack's API at ${stack.apiUrl}: ${(error as Error).message}`);
  }
  return readApiReply<T>(response, (message) => new CommandError(`${method} ${pathname} failed (${response.status}): ${message}`));
};
