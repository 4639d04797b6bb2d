// Runs fauxqs (ESM-only) in its own Node process so the stack works the same under tsx, plain node and jest
// (whose CommonJS runtime cannot import ESM without flags). Talks to its parent over the IPC channel:
// sends { type: 'ready', endpoint } once listening, exits when told { type: 'stop' } or when the parent goes away.
import { buildApp } from 'fauxqs';

const region = process.env.FAUXQS_REGION || 'us-east-1';

// fauxqs 1.9 builds queue URLs as http://sqs.<region>.localhost:<port>/..., and "*.localhost" does not resolve
// on every machine; the SQS SDK then sends to that host and fails. An SqsStore whose host is empty makes fauxqs use
// the request's Host header instead, so queue URLs are http://127.0.0.1:<port>/000000000000/<name>: the same origin
// as AWS_ENDPOINT_URL_SQS. SqsStore is not in the package's exports map, hence the path next to the entry point.
const { SqsStore } = await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href);
const sqsStore = new SqsStore();
sqsStore.host = '';
sqsStore.region = region;

const app = buildApp({ logger: false, defaultRegion: region, stores: { sqsStore } });
const endpoint = await app.listen({ port: Number(process.env.FAUXQS_PORT || 0), host: '127.0.0.1' });

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await app.close();
  process.exit(0);
}
process.on('message', (message) => {
  if (message && message.type === 'stop') void stop();
});
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());
process.send({ type: 'ready', endpoint });
