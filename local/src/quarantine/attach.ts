/**
 * Quarantine for a running embedded stack: a drainer that moves the quarantine queue into the store in the state
 * directory, and the `/_stack/quarantine` control route the `claims-cdc quarantine` command talks to.
 *
 * Routes (all need the stack's token):
 * - `GET  /_stack/quarantine`                → `{ entries }` (no payloads)
 * - `GET  /_stack/quarantine/<id>`           → one entry with its raw payload
 * - `POST /_stack/quarantine/<id>/redrive`   `{ record: "<fixed text>", force?: true }` → where it went
 *   (`force`: also when already re-driven, or when the record is for another claim or event than the entry)
 */
import { ControlError, type ControlRequest, type RunningStack } from '../stack';
import { startQuarantineDrainer, type QuarantineDrainer } from './drainer';
import { redriveRecord, RedriveRejectedError } from './redrive';
import { QuarantineLookupError, QuarantineStore, quarantineStorePath, type QuarantineEntry, type QuarantineEntryWithPayload, type RedriveMark } from './store';

/** The name of the control route. */
export const QUARANTINE_CONTROL = 'quarantine';

/** Quarantine attached to a stack. */
export interface AttachedQuarantine {
  readonly store: QuarantineStore;
  readonly drainer: QuarantineDrainer;
  /** Stops the drainer (call before `stack.stop()`: the drainer uses the stack's SQS client). */
  stop(): Promise<void>;
}

/** Reply of the redrive route. */
export interface RedriveReply extends RedriveMark {
  readonly id: string;
}

/** Starts draining the stack's quarantine queue into `<stateDir>/quarantine.jsonl` and registers the control route. */
export function attachQuarantine(stack: RunningStack, options: { file?: string } = {}): AttachedQuarantine {
  const store = new QuarantineStore(options.file ?? quarantineStorePath(stack.stateDir));
  const drainer = startQuarantineDrainer({ sqs: stack.clients.sqs, queueUrl: stack.resources.queues.quarantine.url, store });
  const targets = {
    kinesis: stack.clients.kinesis,
    streamName: stack.resources.stream.name,
    sqs: stack.clients.sqs,
    loadQueueUrl: stack.resources.queues.load.url,
  };

  const lookup = (id: string): QuarantineEntryWithPayload => {
    try {
      return store.get(id);
    } catch (error) {
      if (error instanceof QuarantineLookupError) throw new ControlError(404, error.message);
      throw error;
    }
  };

  stack.registerControl(QUARANTINE_CONTROL, async (request: ControlRequest) => {
    const [id, action, ...rest] = request.subpath.split('/').filter(Boolean);
    if (!id && request.method === 'GET') return { entries: store.list() satisfies QuarantineEntry[] };
    if (id && !action && rest.length === 0 && request.method === 'GET') return lookup(id);
    if (id && action === 'redrive' && rest.length === 0 && request.method === 'POST') {
      const body = request.body as { record?: unknown; force?: unknown } | undefined;
      if (typeof body?.record !== 'string') throw new ControlError(400, 'redrive needs a JSON body { "record": "<the fixed record as text>" }');
      const entry = lookup(id);
      if (entry.redriven && body.force !== true) {
        throw new ControlError(409, `${entry.id} was already re-driven at ${entry.redriven.at}; use --force to send it again`);
      }
      let mark: RedriveMark;
      try {
        mark = await redriveRecord(entry, body.record, targets, { force: body.force === true });
      } catch (error) {
        if (error instanceof RedriveRejectedError) throw new ControlError(422, error.message);
        throw error;
      }
      store.markRedriven(entry.id, mark, body.record);
      return { id: entry.id, ...mark } satisfies RedriveReply;
    }
    throw new ControlError(404, 'quarantine routes: GET /, GET /<id>, POST /<id>/redrive');
  });

  return { store, drainer, stop: () => drainer.stop() };
}
