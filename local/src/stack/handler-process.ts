/**
 * Entry point of a handler process: one Lambda handler (the transform's) imported in a child of the stack, so that its
 * decode, flatten and SQS sends run on the second core instead of the stack's main thread, which keeps the pollers,
 * the load and the merge. Started by handler-process-client.ts (`fork`), never imported; where it runs from (tsx or
 * local/dist) is child-entry.ts's choice.
 *
 * The environment is the stack's (forked after the stack set its handler environment), so the handler module reads
 * the same endpoints, queue URLs and settings it would read in the stack's process. Invocations may overlap (one per
 * shard, as Lambda runs one instance per shard); each is answered with its result or its error. The process exits when
 * its parent goes away.
 */
import { createLambdaContext } from './lambda-runtime';
import { HANDLER_PROCESS_REF_ENV, type HandlerProcessCommand, type HandlerProcessEvent, type HandlerProcessRef, type InvokeContext } from './handler-process-protocol';

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const send = (event: HandlerProcessEvent): void => {
  if (process.connected) process.send?.(event);
};

const crossed = (error: unknown) =>
  error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: `non-Error thrown (${typeof error})` };

/** The handler export of the module, as start-stack.ts resolves it in-process. */
async function loadHandler(ref: HandlerProcessRef): Promise<Handler> {
  const module = (await import(ref.handlerModule)) as Record<string, unknown>;
  const handler = module[ref.handlerExport] ?? (module.default as Record<string, unknown> | undefined)?.[ref.handlerExport];
  if (typeof handler !== 'function') throw new Error(`${ref.handlerModule} does not export a function named ${ref.handlerExport}`);
  return handler as Handler;
}

/** A Lambda context from what crossed the boundary (Powertools reads its names and the remaining time). */
const contextOf = (c: InvokeContext) =>
  createLambdaContext({ functionName: c.functionName, functionArn: c.functionArn, memoryMb: c.memoryMb }, { awsRequestId: c.awsRequestId, deadlineMs: c.deadlineMs });

async function main(): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  let handler: Handler;
  try {
    handler = await loadHandler(JSON.parse(process.env[HANDLER_PROCESS_REF_ENV] ?? '') as HandlerProcessRef);
  } catch (error) {
    send({ type: 'start-failed', error: crossed(error) });
    process.exit(1);
  }
  process.on('message', (command: HandlerProcessCommand) => {
    if (command.type !== 'invoke') return;
    handler(command.event, contextOf(command.context)).then(
      (result) => send({ type: 'result', id: command.id, result: result ?? null }),
      (error: unknown) => send({ type: 'error', id: command.id, error: crossed(error) }),
    );
  });
  send({ type: 'ready' });
}

void main();
