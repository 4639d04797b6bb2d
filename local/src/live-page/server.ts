/**
 * The live page's HTTP server, on 127.0.0.1 only. Every request must carry the stack's API token, checked in constant
 * time: as `Authorization: Bearer TOKEN` (what the page's own script sends when it polls) or as `?token=TOKEN` (the
 * only way a browser's address bar can carry it when the page is opened). Replies are never cached, never framed,
 * and the page sends no Referer, so the token in its address does not leave it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { listenOnLoopback } from '../stack/listen';
import { pageHtml } from './page-html';

/** What the live page server serves, and where. */
export interface LivePageServerOptions {
  /** The token every request must carry. */
  token: string;
  /** The JSON document the page polls (null: no status yet, answered 503). */
  data: () => Promise<unknown>;
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
}

/** A running live page server. */
export interface LivePageServer {
  /** `http://127.0.0.1:PORT/` (without the token). */
  readonly url: string;
  stop(): Promise<void>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Compares a presented token with the expected one in time independent of where they differ (digests: equal lengths). */
export const tokenMatches = (expected: string, presented: string | undefined): boolean =>
  presented !== undefined && timingSafeEqual(digest(expected), digest(presented));

/** The token a request presents: the bearer header first, else the `token` query parameter. */
export function presentedToken(req: Pick<http.IncomingMessage, 'headers' | 'url'>): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string' && /^Bearer /i.test(header)) return header.slice(7).trim();
  return new URL(req.url ?? '/', 'http://127.0.0.1').searchParams.get('token') ?? undefined;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

function send(res: http.ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function handle(options: LivePageServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (!tokenMatches(options.token, presentedToken(req))) {
    send(res, 401, 'text/plain; charset=utf-8', 'the live page needs the stack API token (see the output of claims-cdc up)\n', { 'www-authenticate': 'Bearer' });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'GET only\n', { allow: 'GET, HEAD' });
    return;
  }
  const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (pathname === '/') {
    const nonce = randomBytes(16).toString('base64');
    send(res, 200, 'text/html; charset=utf-8', pageHtml(nonce), {
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    });
    return;
  }
  if (pathname === '/api/live') {
    const data = await options.data();
    if (data === null) send(res, 503, 'application/json', JSON.stringify({ message: 'no status yet' }), { 'retry-after': '1' });
    else send(res, 200, 'application/json', JSON.stringify(data));
    return;
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}

/** Starts the server on 127.0.0.1. */
export async function startLivePageServer(options: LivePageServerOptions): Promise<LivePageServer> {
  const server = http.createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      // A failed status query: its first line only (warehouse errors carry no row values).
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ message: (error as Error).message.split('\n')[0] }));
      else res.destroy();
    });
  });
  const port = await listenOnLoopback(server, options.port ?? 0);
  let stopped: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}
