/**
 * A handler in a child process (the stack's transform) is called like the in-process one: results, the Lambda
 * context and thrown errors cross the boundary; a child that dies fails its invocation as an infrastructure error and
 * the next invocation gets a new child; stop waits for the invocation in flight.
 */
import path from 'node:path';
import type { Context } from 'aws-lambda';
import { createLambdaContext } from '../src/stack/lambda-runtime';
import { HandlerProcessError, startHandlerProcess, type HandlerProcess } from '../src/stack/handler-process-client';
import type { ChildHandlerEvent } from './fixtures/child-handler';

const REF = { handlerModule: path.join(__dirname, 'fixtures', 'child-handler'), handlerExport: 'handler' };
type Reply = { echo: unknown; pid: number; functionName: string; requestId: string; remainingMs: number; env?: string };

const context = (timeoutMs = 30_000): Context =>
  createLambdaContext({ functionName: 'transform', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:transform', timeoutMs });

describe('a handler in its own process', () => {
  let child: HandlerProcess<ChildHandlerEvent, Reply> | undefined;
  afterEach(async () => {
    await child?.kill();
    child = undefined;
    delete process.env.CHILD_HANDLER_MARK;
  });

  it('returns the handler result, with the context and the environment it was forked with', async () => {
    // Prepare
    process.env.CHILD_HANDLER_MARK = 'forked-with-this';
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    const ctx = context(30_000);
    // Act
    const reply = await child.handler({ echo: { rows: ['a', 'b'], n: 2 } }, ctx);
    // Assess
    expect(reply.echo).toEqual({ rows: ['a', 'b'], n: 2 });
    expect(reply.pid).not.toBe(process.pid);
    expect(reply.pid).toBe(child.pid());
    expect(reply).toMatchObject({ functionName: 'transform', requestId: ctx.awsRequestId, env: 'forked-with-this' });
    expect(reply.remainingMs).toBeGreaterThan(20_000);
    expect(reply.remainingMs).toBeLessThanOrEqual(30_000);
  });

  it('throws what the handler threw, by name and message', async () => {
    // Prepare
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    // Act
    const calling = child.handler({ throwName: 'SqsSendError' }, context());
    // Assess
    await expect(calling).rejects.toMatchObject({ name: 'SqsSendError', message: 'record 7 could not be sent' });
  });

  it('fails the invocation of a child that dies as an infrastructure error, then starts a new child', async () => {
    // Prepare
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    const first = child.pid();
    // Act
    const dying = child.handler({ exit: true }, context());
    await expect(dying).rejects.toBeInstanceOf(HandlerProcessError);
    const after = await child.handler({ echo: 'again' }, context());
    // Assess
    expect(after.echo).toBe('again');
    expect(after.pid).not.toBe(first);
  });

  it('fails, as an infrastructure error, an invocation sent to a child that died before its exit was seen', async () => {
    // Prepare: the child is killed and gone, but this process has not yet polled the exit (nor the closed channel).
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    const first = child.pid()!;
    process.kill(first, 'SIGKILL');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    // Act: the write to the dead child's channel fails (EPIPE), which used to be an unhandled 'error' event.
    const sent = child.handler({ echo: 'lost' }, context());
    // Assess: rejected by the failed write itself (an exit seen first would say "exited … during an invocation").
    await expect(sent).rejects.toThrow(new HandlerProcessError('the transform process could not take the invocation (write EPIPE)'));
    const after = await child.handler({ echo: 'again' }, context());
    expect(after).toMatchObject({ echo: 'again' });
    expect(after.pid).not.toBe(first);
  });

  it('starts one new child, not one per invocation, when overlapping invocations find the child dead', async () => {
    // Prepare: the child is gone, and this process has seen its exit.
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    const first = child.pid()!;
    process.kill(first, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Act: two invocations at once, as two shards' pollers make them.
    const [a, b] = await Promise.all([child.handler({ echo: 'a' }, context()), child.handler({ echo: 'b' }, context())]);
    // Assess: both ran in the same new child, the one the client reports (and will stop).
    expect([a.echo, b.echo]).toEqual(['a', 'b']);
    expect(a.pid).not.toBe(first);
    expect(b.pid).toBe(a.pid);
    expect(child.pid()).toBe(a.pid);
  });

  it('lets the invocation in flight finish when stopped', async () => {
    // Prepare
    child = await startHandlerProcess<ChildHandlerEvent, Reply>(REF, 'transform');
    const running = child.handler({ waitMs: 300, echo: 'finished' }, context());
    // Act
    await child.stop();
    // Assess
    await expect(running).resolves.toMatchObject({ echo: 'finished' });
    await expect(child.handler({ echo: 'late' }, context())).rejects.toBeInstanceOf(HandlerProcessError);
  });

  it('does not start when the module cannot be loaded, naming it', async () => {
    // Act
    const starting = startHandlerProcess({ handlerModule: path.join(__dirname, 'fixtures', 'no-such-handler'), handlerExport: 'handler' }, 'transform');
    // Assess
    await expect(starting).rejects.toThrow(/transform process could not load its handler: .*no-such-handler/);
  });
});
