/**
 * How the Kinesis poller reads a shard: GetRecords through the AWS SDK (any endpoint: LocalStack, AWS), or straight
 * over HTTP/1 as JSON for the stack's own kinesalite.
 *
 * Why the second: in a drain of the embedded stack, the SDK's GetRecords was the largest cost of the stack's main
 * thread (its JSON deserializer, then base64 → bytes, which the poller turned back into base64 for the Lambda event:
 * about a third of the thread's busy time with the transform already in its own process). kinesalite answers the
 * same JSON protocol (`application/x-amz-json-1.1`), whose `Data` is already the base64 text the event carries, so
 * this reader parses the reply once and copies nothing. kinesalite requires an Authorization header of SigV4's shape
 * and checks no signature; AWS and LocalStack do, which is why they keep the SDK.
 */
import http from 'node:http';
import { ExpiredIteratorException, GetRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

/** A stream record as the poller keeps it: the fields of Lambda's event record, data already base64. */
export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly dataBase64: string;
  /** ApproximateArrivalTimestamp, epoch milliseconds. */
  readonly arrivalMs: number;
}

/** One GetRecords reply. */
export interface GetRecordsReply {
  readonly records: StreamRecord[];
  readonly nextShardIterator?: string;
  readonly millisBehindLatest?: number;
}

/** Reads up to `limit` records at `shardIterator`; an expired iterator throws the SDK's ExpiredIteratorException. */
export type GetRecords = (shardIterator: string, limit: number, signal: AbortSignal) => Promise<GetRecordsReply>;

/** GetRecords through the SDK client. */
export function sdkGetRecords(kinesis: KinesisClient): GetRecords {
  return async (shardIterator, limit, signal) => {
    const reply = await kinesis.send(new GetRecordsCommand({ ShardIterator: shardIterator, Limit: limit }), { abortSignal: signal });
    return {
      records: (reply.Records ?? []).map((r) => ({
        sequenceNumber: r.SequenceNumber ?? '',
        partitionKey: r.PartitionKey ?? '',
        dataBase64: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        arrivalMs: (r.ApproximateArrivalTimestamp ?? new Date()).getTime(),
      })),
      ...(reply.NextShardIterator ? { nextShardIterator: reply.NextShardIterator } : {}),
      ...(reply.MillisBehindLatest !== undefined ? { millisBehindLatest: reply.MillisBehindLatest } : {}),
    };
  };
}

/** The JSON reply, as kinesalite writes it (ApproximateArrivalTimestamp in epoch seconds). */
interface JsonReply {
  Records?: { SequenceNumber: string; PartitionKey: string; Data: string; ApproximateArrivalTimestamp: number }[];
  NextShardIterator?: string;
  MillisBehindLatest?: number;
  __type?: string;
  message?: string;
}

/** A GetRecords the stream answered with an error other than an expired iterator. */
export class GetRecordsError extends Error {
  override readonly name = 'GetRecordsError';
}

/** GetRecords over HTTP/1 JSON to the stack's own kinesalite at `endpoint` (its HTTP/1 URL). */
export function jsonGetRecords(endpoint: string, region: string): GetRecords {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const authorization = `AWS4-HMAC-SHA256 Credential=local/20000101/${region}/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0`;
  return async (shardIterator, limit, signal) => {
    const body = JSON.stringify({ ShardIterator: shardIterator, Limit: limit });
    const { status, text } = await postOnce(url, agent, body, authorization, signal).catch((error: unknown) => {
      // A kept-alive socket the server closed as the request went out: sent again on a new one (see StaleSocketError).
      if (error instanceof StaleSocketError) return postOnce(url, agent, body, authorization, signal);
      throw error;
    });
    const reply = parseReply(status, text);
    if (status !== 200) {
      const type = (reply.__type ?? `HTTP ${status}`).split('#').pop() as string;
      if (type === 'ExpiredIteratorException') throw new ExpiredIteratorException({ message: reply.message ?? type, $metadata: { httpStatusCode: status } });
      throw new GetRecordsError(`${type}: ${reply.message ?? 'no message'}`);
    }
    return {
      records: (reply.Records ?? []).map((r) => ({
        sequenceNumber: r.SequenceNumber,
        partitionKey: r.PartitionKey,
        dataBase64: r.Data,
        arrivalMs: Math.round(r.ApproximateArrivalTimestamp * 1000),
      })),
      ...(reply.NextShardIterator ? { nextShardIterator: reply.NextShardIterator } : {}),
      ...(reply.MillisBehindLatest !== undefined ? { millisBehindLatest: reply.MillisBehindLatest } : {}),
    };
  };
}

/**
 * The reply as JSON. A body that is not JSON is named by its status and length only: V8's parse error quotes the text,
 * which holds records' data (claim images).
 */
function parseReply(status: number, text: string): JsonReply {
  try {
    return JSON.parse(text) as JsonReply;
  } catch {
    throw new GetRecordsError(`GetRecords reply is not JSON (HTTP ${status}, ${text.length} characters)`);
  }
}

/**
 * The server closed a kept-alive socket just as a request was sent on it (Node's "socket hang up", ECONNRESET, on a
 * reused socket): the request never reached it. Node's documentation gives this race and its remedy, sending the
 * request again; a GetRecords is safe to send again (an iterator can be read more than once).
 */
class StaleSocketError extends Error {
  override readonly name = 'StaleSocketError';
}

/** One POST; resolves with the status and the whole body. */
function postOnce(url: URL, agent: http.Agent, body: string, authorization: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: '/',
        method: 'POST',
        agent,
        signal,
        headers: {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'Kinesis_20131202.GetRecords',
          'x-amz-date': new Date().toISOString().replace(/[-:]|\.\d{3}/g, ''),
          authorization,
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      },
    );
    request.on('error', (error: NodeJS.ErrnoException) =>
      reject(request.reusedSocket && error.code === 'ECONNRESET' ? new StaleSocketError(error.message) : error),
    );
    request.end(body);
  });
}
