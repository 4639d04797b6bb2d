/** Quarantine, locally: the store in the state directory, the queue drainer, re-drive, and the CLI command. */
export { attachQuarantine, QUARANTINE_CONTROL } from './attach';
export type { AttachedQuarantine, RedriveReply } from './attach';
export { startQuarantineDrainer } from './drainer';
export type { QuarantineDrainer, QuarantineDrainerCounters, QuarantineDrainerOptions } from './drainer';
export { checkChangeRecord, checkRowMessage, redriveRecord, RedriveRejectedError } from './redrive';
export type { RedriveOptions, RedriveTargets } from './redrive';
export { decodedPayload, eventsOf, identityMismatch } from './identity';
export type { EventIdentity } from './identity';
export { redrivenRows } from './redriven-rows';
export type { RedrivenRows } from './redriven-rows';
export { entryIdFor, QUARANTINE_FILE, QuarantineLookupError, QuarantineStore, quarantineStorePath } from './store';
export type { EntryOrigin, QuarantineEntry, QuarantineEntryWithPayload, RedriveMark, StoreLine } from './store';
export { PHI_WARNING, QUARANTINE_HELP, quarantineCommand } from './command';
