/**
 * `claims-cdc quarantine`: what the pipeline rejected, why, and a way to send a fixed record back.
 * `list` and `show` read the store in the state directory (through the running stack when there is one, so its
 * drainer's latest entries are included); `redrive` needs the running stack, which owns the stream and the queues.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from '../console/args';
import { CommandError, UsageError } from '../console/errors';
import type { Io } from '../console/io';
import { callStackControl, readStackInfo, StackControlError, type StackInfo } from '../stack/stack-client';
import { awsStageOf, onAwsTarget, TARGET_HELP, TARGET_OPTIONS } from '../aws-target/target-option';
import type { RedriveReply } from './attach';
import { QUARANTINE_CONTROL } from './attach';
import { decodedPayload } from './identity';
import { QuarantineLookupError, QuarantineStore, quarantineStorePath, type QuarantineEntry, type QuarantineEntryWithPayload } from './store';

export const QUARANTINE_HELP = `Usage: claims-cdc quarantine list [--json] [--state-dir DIR]
       claims-cdc quarantine show ID [--raw] [--state-dir DIR]
       claims-cdc quarantine redrive ID --file FIXED.json [--force] [--state-dir DIR]

Records the pipeline could not process are quarantined with their reason and raw payload, never dropped.
  list      id, reason, origin and time of every quarantined record (no payloads)
  show      the raw payload of one record (a DynamoDB→Kinesis record as JSON text; --raw: exactly as stored)
            it is your own claim data and may contain PHI: keep it on this machine
  redrive   check FIXED.json the way the pipeline will, and that it is for the same claim and event as the
            quarantined record (claim id; event id and name when the record has them), then put it back where
            the record entered (the Kinesis stream, or the load queue) and mark the entry re-driven; needs the
            running stack. verify then compares that claim's destination row with the fix, and says when the
            item in DynamoDB itself still needs fixing.
  --force   re-drive even when the entry was already re-driven, or when FIXED.json is for another claim or
            event (or the quarantined record names none); the pipeline's own checks of FIXED.json still run
  --state-dir DIR   the stack's state directory (default .claims-cdc)
${TARGET_HELP}
            the stage's quarantine queue is read in place (received, then made visible again: nothing is
            deleted); SQS returns samples, so a read of a large queue may miss some (it says so). redrive
            deletes the entry's messages once the fixed record is sent.
  ID may be a unique prefix of the id shown by list.`;

/** Printed (to stderr) before a payload. */
export const PHI_WARNING =
  'WARNING: the payload below is raw claim data and may contain PHI (names, birth dates, contact details, member ids). ' +
  'It is your own data on your machine: do not paste it into tickets, chats or logs.';

/** `claims-cdc quarantine` */
export const quarantineCommand = async (args: readonly string[], io: Io): Promise<number> => {
  const { values, positionals } = parse(
    args,
    { json: { type: 'boolean' }, raw: { type: 'boolean' }, file: { type: 'string' }, force: { type: 'boolean' }, 'state-dir': { type: 'string' }, ...TARGET_OPTIONS },
    QUARANTINE_HELP,
  );
  if (values.help) {
    io.out(QUARANTINE_HELP);
    return 0;
  }
  const [action, id, ...extra] = positionals;
  if (!action) throw new UsageError(`quarantine needs an action: list, show or redrive\n${QUARANTINE_HELP}`);
  const stateDir = path.resolve(typeof values['state-dir'] === 'string' ? values['state-dir'] : '.claims-cdc');
  const stage = awsStageOf(values);
  const act = (source: EntrySource) => runAction(source, { action, id, extra, values }, io);
  // A deployed stage's quarantine queue stands in for the store (aws-target reads it in place).
  return stage === undefined ? act(new Source(stateDir)) : onAwsTarget(async (aws) => act(aws.stageQuarantineSource(stage, io.err)));
};

/** Where the entries are: the local store (through the running stack) or a deployed stage's quarantine queue. */
type EntrySource = Pick<Source, 'list' | 'get' | 'redrive'>;

interface ActionArgs {
  action: string;
  id: string | undefined;
  extra: string[];
  values: { json?: boolean | undefined; raw?: boolean | undefined; file?: string | undefined; force?: boolean | undefined };
}

async function runAction(source: EntrySource, { action, id, extra, values }: ActionArgs, io: Io): Promise<number> {
  if (action === 'list') {
    if (id || extra.length > 0) throw new UsageError(`unexpected argument '${id ?? extra[0]}'`);
    const entries = await source.list();
    if (values.json) io.out(JSON.stringify(entries));
    else io.out(listTable(entries));
    return 0;
  }
  if (action === 'show') {
    if (!id) throw new UsageError('quarantine show needs an ID (see quarantine list)');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const entry = await source.get(id);
    if (entry.payload === undefined) throw new CommandError(`${entry.id}: not every part of its payload has been received yet; try again in a moment`);
    io.err(PHI_WARNING);
    io.err(`${entry.id}  ${entry.reason}: ${entry.detail}  (origin ${originText(entry)}, quarantined ${entry.quarantinedAt})`);
    io.out(values.raw ? entry.payload : (decodedPayload(entry) ?? ''));
    return 0;
  }
  if (action === 'redrive') {
    if (!id) throw new UsageError('quarantine redrive needs an ID (see quarantine list)');
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (typeof values.file !== 'string') throw new UsageError('quarantine redrive needs --file FIXED.json (the fixed record)');
    if (!existsSync(values.file)) throw new UsageError(`no such file: ${values.file}`);
    const record = readFileSync(values.file, 'utf8');
    const reply = await source.redrive(id, record, values.force === true);
    io.out(`${reply.id} re-driven to the ${reply.target === 'stream' ? 'Kinesis stream' : 'load queue'} (${reply.target === 'stream' ? 'sequence number' : 'message id'} ${reply.ref})`);
    return 0;
  }
  throw new UsageError(`unknown quarantine action '${action}': use list, show or redrive`);
}

/** The entries, from the running stack when there is one, else from the store file. */
class Source {
  constructor(readonly stateDir: string) {}

  requireStack(what: string): StackInfo {
    if (!existsSync(this.stateDir)) throw new CommandError(`no state directory ${this.stateDir} (start the stack with claims-cdc up, or give --state-dir)`);
    const info = readStackInfo(this.stateDir);
    if (!info) throw new CommandError(`${what} needs the running stack, and none is running for ${this.stateDir} (start it with claims-cdc up)`);
    return info;
  }

  /** Re-drives through the running stack, which owns the stream, the queues and the store. */
  async redrive(id: string, record: string, force: boolean): Promise<RedriveReply> {
    const stack = this.requireStack('redrive');
    return control<RedriveReply>(stack, `${QUARANTINE_CONTROL}/${encodeURIComponent(id)}/redrive`, { record, ...(force ? { force: true } : {}) });
  }

  async list(): Promise<QuarantineEntry[]> {
    const stack = this.#stack();
    if (stack) return (await control<{ entries: QuarantineEntry[] }>(stack, QUARANTINE_CONTROL)).entries;
    return this.#store().list();
  }

  async get(id: string): Promise<QuarantineEntryWithPayload> {
    const stack = this.#stack();
    if (stack) return control<QuarantineEntryWithPayload>(stack, `${QUARANTINE_CONTROL}/${encodeURIComponent(id)}`);
    try {
      return this.#store().get(id);
    } catch (error) {
      if (error instanceof QuarantineLookupError) throw new CommandError(error.message);
      throw error;
    }
  }

  #stack(): StackInfo | undefined {
    if (!existsSync(this.stateDir)) throw new CommandError(`no state directory ${this.stateDir} (start the stack with claims-cdc up, or give --state-dir)`);
    return readStackInfo(this.stateDir);
  }

  #store(): QuarantineStore {
    return new QuarantineStore(quarantineStorePath(this.stateDir));
  }
}

async function control<T>(stack: StackInfo, name: string, body?: unknown): Promise<T> {
  try {
    return await callStackControl<T>(stack, name, body);
  } catch (error) {
    if (error instanceof StackControlError) {
      // The route answers with its own message; a 404 from a stack without the route means it was started without quarantine.
      throw new CommandError(error.message.replace(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), ''));
    }
    throw error;
  }
}

const originText = (entry: QuarantineEntry): string =>
  entry.origin.stage === 'transform' ? `stream record ${entry.origin.id}` : entry.origin.stage === 'load' ? `load message ${entry.origin.id}` : `queue message ${entry.origin.id}`;

function listTable(entries: readonly QuarantineEntry[]): string {
  if (entries.length === 0) return '(no quarantined records)';
  const rows = entries.map((e) => [
    e.id,
    e.reason,
    originText(e),
    e.quarantinedAt,
    e.redriven ? `re-driven ${e.redriven.at}` : e.complete ? 'quarantined' : 'parts missing',
    String(e.deliveries),
  ]);
  const header = ['ID', 'REASON', 'ORIGIN', 'QUARANTINED AT', 'STATUS', 'SEEN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), ...rows.map(line), '', `${entries.length} record(s); show one with: claims-cdc quarantine show ID`].join('\n');
}
