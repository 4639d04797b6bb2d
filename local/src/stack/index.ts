/**
 * The embedded stack's public API. `startStack` is what the CLI and the demo use; the parts are exported for tests
 * and for tools that need only one of them (e.g. the chaos harness driving a poller with a fault-injecting handler).
 */
export { startStack, StackStartError } from './start-stack';
export type { HandlerWrappers, RunningStack, StartStackOptions, StackCounters, StackHandlers, StackStage } from './start-stack';

export { callStackControl, readStackInfo, stackInfoPath, StackControlError } from './stack-client';
export type { StackInfo } from './stack-client';

export { ControlError, startApiServer } from './api-server';
export type { ApiServer, ApiServerCounters, ApiServerOptions, ControlHandler, ControlRequest, HttpApiHandler } from './api-server';

export { startDdbKinesisCapture, MonotonicMicros } from './ddb-kinesis-capture';
export type { CaptureStats, DdbKinesisCapture, DdbKinesisCaptureOptions, DynamoDBKinesisRecord } from './ddb-kinesis-capture';

export { changePartitionKey, claimPartitionKey, itemIdentity, partitionKeyOfIdentity } from './partition-key';

export { startEmulators, EmulatorStartError } from './emulators';
export type { EmulatorEndpoints, EmulatorOptions, Emulators } from './emulators';

export { startKinesisPoller } from './kinesis-poller';
export type { KinesisHandler, KinesisOnFailureRecord, KinesisPoller, KinesisPollerCounters, KinesisPollerOptions } from './kinesis-poller';
export { startSqsPoller } from './sqs-poller';
export type { SqsHandler, SqsPoller, SqsPollerCounters, SqsPollerOptions } from './sqs-poller';
export { startSchedulePoller } from './schedule-poller';
export type { ScheduledHandler, SchedulePoller, SchedulePollerCounters, SchedulePollerOptions } from './schedule-poller';
export { createLambdaContext } from './lambda-runtime';
export { HandlerProcessError, startHandlerProcess } from './handler-process-client';
export type { HandlerProcess } from './handler-process-client';
export type { FunctionIdentity, LambdaHandler, PollerCounters } from './lambda-runtime';

export { createResources, ResourceSetupError } from './resources';
export type { QueueResource, StackResources } from './resources';
export { applyEnvironment, awsEnvironment, createStackClients, LOCAL_CREDENTIALS } from './aws-env';
export type { AwsEndpoints, StackClients } from './aws-env';
export { defaultStackConfig, fromServerless, getPath, loadStackConfig, LOCAL_DEVIATIONS, mergeStackConfig, REPO_ROOT } from './local-config';
export type { QueueKey, StackConfig, StackConfigOverrides } from './local-config';
