/**
 * Entry point of the stack's AWS processes: `dynamodb` runs dynalite, `stream` runs kinesalite (with its HTTP/2 front
 * door) and the DynamoDB → Kinesis capture in front of the `dynamodb` process (see aws-process-protocol.ts). They run
 * beside the stack's own process, which keeps the pollers and the handlers: the emulators' work and the capture's no
 * longer compete with the pipeline for one thread. Started by aws-process-client.ts (`fork`), never imported; from
 * source it runs under tsx, from the bundled CLI as `aws-process.js` next to the bundle.
 *
 * Talks to its parent over the IPC channel; options come in `CLAIMS_CDC_AWS_PROCESS` (JSON). Sends `ready` once it
 * listens, then (`stream`) the capture's counters every STATS_INTERVAL_MS, and answers `flush` and `stop`. It exits
 * when its parent goes away: a process that dies with its parent leaves what a kill -9 leaves (the LevelDB logs, the
 * capture journal), which the next start replays.
 */
import type { AwsProcessCommand, AwsProcessOptions } from './aws-process-protocol';
import { AWS_PROCESS_OPTIONS_ENV } from './aws-process-protocol';
import { dataDirOf, portOf, send, type Started } from './aws-process-role';
import { startDynalite } from './emulators';

async function startDynamodb(options: AwsProcessOptions): Promise<Started> {
  const dynamo = await startDynalite({ ...dataDirOf(options), ...(options.ports?.dynamodb ? { port: options.ports.dynamodb } : {}) });
  return {
    ready: { type: 'ready', endpoints: { dynamodb: dynamo.endpoint }, ports: { dynamodb: portOf(dynamo.endpoint) } },
    stop: () => dynamo.stop(),
  };
}

/** Serves the parent's commands once started. */
function serve(started: Started): void {
  let stopping: Promise<void> | undefined;
  process.on('message', (command: AwsProcessCommand) => {
    const work =
      command.type === 'flush' ? (started.flush?.() ?? Promise.resolve()) : command.type === 'kill' ? (started.kill?.() ?? Promise.resolve()) : (stopping ??= started.stop());
    const stats = () => (started.stats ? { stats: started.stats() } : {});
    work.then(
      () => send({ type: 'reply', id: command.id, ...stats() }),
      (error: Error) => send({ type: 'reply', id: command.id, ...stats(), error: error.message }),
    );
  });
  send(started.ready);
}

function main(): void {
  // The parent is gone (killed, or it died): nobody is left to serve, and a new stack may already be replaying the
  // journal and reopening the stores. Leaving at once is what a kill -9 would have done.
  process.on('disconnect', () => process.exit(0));
  let options: AwsProcessOptions;
  try {
    options = JSON.parse(process.env[AWS_PROCESS_OPTIONS_ENV] ?? '') as AwsProcessOptions;
  } catch {
    process.stderr.write(`${AWS_PROCESS_OPTIONS_ENV} is missing or not JSON: this file is started by the stack, not run by hand\n`);
    process.exit(2);
  }
  // Each role loads only its own modules: the `dynamodb` process never loads kinesalite, the capture or the SDK.
  const start = options.role === 'dynamodb' ? startDynamodb(options) : import('./aws-process-stream').then((m) => m.startStream(options));
  start.then(serve, (error: Error) => {
    send({ type: 'failed', error: error.message });
    // The parent reads the message before the channel closes.
    setTimeout(() => process.exit(1), 100);
  });
}

main();
