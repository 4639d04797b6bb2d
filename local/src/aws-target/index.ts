/**
 * `--target aws --stage S`: the CLI's commands against a deployed stage instead of the embedded stack. Resources come
 * from CloudFormation outputs or the naming convention (resources.ts), AWS calls from one SDK client per service with
 * the caller's credentials and `AWS_ENDPOINT_URL*` (clients.ts), the ingest API is called SigV4-signed
 * (signed-api.ts), the warehouse is the functions' own (warehouse.ts), the quarantine queue is read in place
 * (quarantine.ts). Each operation resolves the stage, does its work and lets go of what it opened.
 */
import type { ApiReply } from '../console/api-reply';
import type { VerifyResult } from '../inspect/verify';
import type { QuarantineEntry, QuarantineEntryWithPayload, RedriveMark } from '../quarantine/store';
import { dynamodb } from './clients';
import { AwsTargetError } from './errors';
import { readQuarantine, redriveQuarantined, showQuarantined, type QuarantineRead } from './quarantine';
import { resourceSourceFromEnv, STAGE_PATTERN, type StageResources } from './resources';
import { callSignedApi } from './signed-api';
import { collectStageStatus, type AwsStageStatus } from './status';
import { verifyStage } from './verify';
import { openStageWarehouse, type StageWarehouse } from './warehouse';

export { AwsTargetError } from './errors';
export { stageStatusLines } from './status';
export type { AwsStageStatus, QueueDepth } from './status';
export type { QuarantineRead } from './quarantine';
export type { StageResources, StageQueues, ResourceSource } from './resources';
export { CloudFormationSource, NamingConventionSource, resourcesFromOutputs, resourceSourceFromEnv, stackName } from './resources';
export { signApiRequest, callSignedApi, regionOfApiUrl } from './signed-api';
export type { SigningIdentity, SignedRequest } from './signed-api';
export type { ApiReply } from '../console/api-reply';

/** The resources of a stage, from the source CLAIMS_CDC_RESOLVE names. */
export async function resolveStage(stage: string): Promise<StageResources> {
  if (!STAGE_PATTERN.test(stage)) throw new AwsTargetError(`--stage must be letters, digits and dashes (at most 40), got '${stage}'`);
  return resourceSourceFromEnv().resolve(stage);
}

async function withWarehouse<T>(stage: string, use: (resources: StageResources, warehouse: StageWarehouse) => Promise<T>): Promise<T> {
  const resources = await resolveStage(stage);
  const warehouse = openStageWarehouse(stage);
  try {
    return await use(resources, warehouse);
  } finally {
    await warehouse.close();
  }
}

/** The status of a deployed stage. */
export const stageStatus = (stage: string): Promise<AwsStageStatus> => withWarehouse(stage, collectStageStatus);

/** Verify of a deployed stage, after waiting up to `settleMs` for the load queue and staging to empty. */
export const stageVerify = (stage: string, settleMs: number): Promise<VerifyResult> => withWarehouse(stage, (r, w) => verifyStage(r, w, settleMs));

/** The entries in the stage's quarantine queue (read in place, nothing deleted). */
export const stageQuarantineList = async (stage: string): Promise<QuarantineRead> => readQuarantine(await resolveStage(stage));

/** One entry of the stage's quarantine queue, with its payload. */
export const stageQuarantineShow = async (stage: string, id: string): Promise<QuarantineEntryWithPayload> => showQuarantined(await resolveStage(stage), id);

/** Re-drives a fixed record for an entry of the stage's quarantine queue and deletes the entry. */
export const stageQuarantineRedrive = async (stage: string, id: string, record: string, force: boolean): Promise<RedriveMark & { id: string; deleted: number }> =>
  redriveQuarantined(await resolveStage(stage), id, record, force);

/** A caller of the stage's ingest API, SigV4-signed with the default credential chain's credentials. */
export type StageApi = <T>(method: string, pathname: string, body?: unknown) => Promise<ApiReply<T>>;

/** The stage's API, signed with the credentials and region the SDK clients resolve (the default provider chain). */
export async function stageApi(stage: string): Promise<StageApi> {
  const { apiUrl } = await resolveStage(stage);
  if (!apiUrl) throw new AwsTargetError(`the URL of stage ${stage}'s API is not known: set CLAIMS_CDC_API_URL, or resolve from CloudFormation (CLAIMS_CDC_RESOLVE=cloudformation)`);
  const identity = { credentials: dynamodb.config.credentials, region: await dynamodb.config.region() };
  return (method, pathname, body) => callSignedApi(identity, apiUrl, method, pathname, body);
}

/** The quarantine command's view of a stage's quarantine queue: the same three operations as the local store. */
export interface StageQuarantineSource {
  /** Entries without payloads; `note` hears whether the read saw the whole queue. */
  list(): Promise<QuarantineEntry[]>;
  get(id: string): Promise<QuarantineEntryWithPayload>;
  redrive(id: string, record: string, force: boolean): Promise<RedriveMark & { id: string; deleted: number }>;
}

/** {@link StageQuarantineSource} of a stage; `note` gets one line for stderr when a read may have missed messages. */
export function stageQuarantineSource(stage: string, note: (line: string) => void): StageQuarantineSource {
  return {
    async list() {
      const read = await stageQuarantineList(stage);
      if (!read.complete) note(`note: read ${read.messages} of about ${read.approximateDepth} messages in the quarantine queue (SQS returns samples, not a listing); run it again to see others`);
      return read.entries.map(({ payload: _payload, ...entry }) => entry);
    },
    get: (id) => stageQuarantineShow(stage, id),
    redrive: (id, record, force) => stageQuarantineRedrive(stage, id, record, force),
  };
}
