// Runs fauxqs (ESM-only) in its own Node process so the stack works the same under tsx, plain node and jest
// (whose CommonJS runtime cannot import ESM without flags). Talks to its parent over the IPC channel:
// sends { type: 'ready', endpoint } once listening, exits when told { type: 'stop' } or when the parent goes away.
//
// fauxqs keeps everything in memory. With FAUXQS_JOURNAL set, every change to a queue's messages is appended to that
// file synchronously, inside the request, before the reply goes out: a message whose SendMessage was answered, or a
// receive count, or a delete, survives a kill -9 at any moment. A later start replays it. The journal records, per
// message id: sent to (or moved to the DLQ of) a queue, received (its receive count, which the redrive policy
// counts), deleted; and queue purges. Queues themselves are not journaled: the stack creates them at every start
// from its config, and the messages of a queue are put back when it is created. Messages that were in flight when
// the process died are visible again at once (their consumer died with it), with their receive counts.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { buildApp } from 'fauxqs';

const region = process.env.FAUXQS_REGION || 'us-east-1';

// fauxqs 1.9 builds queue URLs as http://sqs.<region>.localhost:<port>/..., and "*.localhost" does not resolve
// on every machine; the SQS SDK then sends to that host and fails. An SqsStore whose host is empty makes fauxqs use
// the request's Host header instead, so queue URLs are http://127.0.0.1:<port>/000000000000/<name>: the same origin
// as AWS_ENDPOINT_URL_SQS. SqsStore is not in the package's exports map, hence the path next to the entry point.
const { SqsStore, SqsQueue } = await import(new URL('./sqs/sqsStore.js', import.meta.resolve('fauxqs')).href);
const sqsStore = new SqsStore();
sqsStore.host = '';
sqsStore.region = region;

if (process.env.FAUXQS_JOURNAL) journalStore(sqsStore, SqsQueue, process.env.FAUXQS_JOURNAL);

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
// The parent is gone (killed): nobody is left to serve, and a new stack may already be replaying the journal.
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => void stop());
process.send({ type: 'ready', endpoint });

/**
 * Replays the journal into messages waiting for their queue, compacts it, and hooks the store so that every change
 * is journaled from now on.
 */
function journalStore(store, Queue, file) {
  /** message id → { q: queue name, m: message }, in the order they were sent. */
  const live = new Map();
  const apply = (entry) => {
    if (entry.o === 'p') {
      live.delete(entry.m.messageId);
      live.set(entry.m.messageId, { q: entry.q, m: entry.m });
    } else if (entry.o === 'd') {
      live.delete(entry.id);
    } else if (entry.o === 'r') {
      for (const [id, count, first] of entry.m) {
        const found = live.get(id);
        if (!found) continue;
        found.m.approximateReceiveCount = count;
        if (first) found.m.approximateFirstReceiveTimestamp = first;
      }
    } else if (entry.o === 'x') {
      for (const [id, found] of live) if (found.q === entry.q) live.delete(id);
    }
  };
  for (const entry of readJournal(file)) apply(entry);

  /** Messages of queues not created yet in this run, by queue name. */
  const waiting = new Map();
  for (const { q, m } of live.values()) {
    if (!waiting.has(q)) waiting.set(q, []);
    waiting.get(q).push(m);
  }

  let fd;
  let bytes = 0;
  let compactedBytes = 0;
  const rewrite = (messages) => {
    const temp = `${file}.tmp`;
    const out = openSync(temp, 'w', 0o600);
    let written = 0;
    for (let i = 0; i < messages.length; i += 1000) {
      const chunk = messages.slice(i, i + 1000).map(({ q, m }) => JSON.stringify({ o: 'p', q, m }));
      written += writeSync(out, `${chunk.join('\n')}\n`);
    }
    fsyncSync(out);
    closeSync(out);
    renameSync(temp, file);
    if (fd !== undefined) closeSync(fd);
    fd = openSync(file, 'a', 0o600);
    bytes = compactedBytes = written;
  };
  rewrite([...live.values()]);

  let restoring = false;
  // Always called after the change it records: a compaction it triggers then includes that change.
  const append = (entry) => {
    if (restoring) return;
    bytes += writeSync(fd, `${JSON.stringify(entry)}\n`);
    // Deleted messages stay in the journal until it is rewritten with only the live ones.
    if (bytes > Math.max(64 * 1024 * 1024, 4 * compactedBytes)) rewrite(currentMessages());
  };
  const currentMessages = () => {
    const out = [];
    for (const queue of store.queues.values()) {
      const messages = [...queue.messages, ...queue.delayedMessages, ...[...queue.inflightMessages.values()].map((e) => e.message)];
      for (const group of queue.fifoMessages.values()) messages.push(...group);
      for (const group of queue.fifoDelayed.values()) messages.push(...group);
      for (const m of messages) out.push({ q: queue.name, m });
    }
    for (const [q, messages] of waiting) for (const m of messages) out.push({ q, m });
    return out;
  };

  const createQueue = store.createQueue;
  store.createQueue = function (name, ...rest) {
    const queue = createQueue.call(this, name, ...rest);
    const messages = waiting.get(name);
    if (messages) {
      waiting.delete(name);
      restoring = true;
      try {
        for (const m of messages) queue.enqueue(m);
      } finally {
        restoring = false;
      }
    }
    return queue;
  };

  const enqueue = Queue.prototype.enqueue;
  Queue.prototype.enqueue = function (msg) {
    const result = enqueue.call(this, msg);
    // Also a move to the dead-letter queue (from dequeue): the same message id, now in another queue.
    append({ o: 'p', q: this.name, m: msg });
    return result;
  };

  const dequeue = Queue.prototype.dequeue;
  Queue.prototype.dequeue = function (...args) {
    const received = dequeue.apply(this, args);
    if (received.length > 0) {
      const counts = received.map((r) => {
        const m = this.inflightMessages.get(r.ReceiptHandle)?.message;
        return [r.MessageId, m?.approximateReceiveCount ?? 1, m?.approximateFirstReceiveTimestamp];
      });
      append({ o: 'r', q: this.name, m: counts });
    }
    return received;
  };

  const deleteMessage = Queue.prototype.deleteMessage;
  Queue.prototype.deleteMessage = function (receiptHandle) {
    const id = this.inflightMessages.get(receiptHandle)?.message.messageId;
    const deleted = deleteMessage.call(this, receiptHandle);
    if (deleted && id) append({ o: 'd', q: this.name, id });
    return deleted;
  };

  const purge = Queue.prototype.purge;
  Queue.prototype.purge = function () {
    const result = purge.call(this);
    append({ o: 'x', q: this.name });
    return result;
  };

  const deleteQueue = store.deleteQueue;
  store.deleteQueue = function (url) {
    const name = this.queues.get(url)?.name;
    const deleted = deleteQueue.call(this, url);
    if (deleted && name !== undefined) append({ o: 'x', q: name });
    return deleted;
  };
}

function readJournal(file) {
  let text;
  try {
    if (!statSync(file).isFile()) return [];
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  const entries = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      break; // a write torn by a kill
    }
  }
  return entries;
}
