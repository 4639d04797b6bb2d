/**
 * Lets a plain `new KinesisClient({})` talk to kinesalite.
 *
 * The SDK's Kinesis client defaults to an HTTP/2 handler (for SubscribeToShard); against an `http://` endpoint it
 * speaks cleartext HTTP/2 with prior knowledge, which kinesalite (HTTP/1.1 only) answers with a protocol error.
 * This front door accepts both on one port: a connection that opens with the HTTP/2 preface is served by an HTTP/2
 * server that replays each request to kinesalite over HTTP/1.1; any other connection is piped to kinesalite as is.
 * Handler code therefore needs neither a custom request handler nor an endpoint branch.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';

/** A running bridge. */
export interface Http2Bridge {
  readonly port: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'host']);

/** Listens on 127.0.0.1 (ephemeral port) and forwards to `127.0.0.1:targetPort`. */
export async function startHttp2Bridge(targetPort: number, listenPort = 0): Promise<Http2Bridge> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();

  const h2 = http2.createServer((req, res) => {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!name.startsWith(':') && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    headers.host = req.headers[':authority'];
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers, agent },
      (reply) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(reply.headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
        res.writeHead(reply.statusCode ?? 502, out);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  h2.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });

  const front = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      // "PRI * HTTP/2.0" opens every HTTP/2 prior-knowledge connection; no HTTP/1 method starts with "PRI".
      if (first.subarray(0, 3).toString('latin1') === 'PRI') {
        // The HTTP/2 session takes the socket over (and resumes it itself).
        h2.emit('connection', socket);
        return;
      }
      const target = net.connect(targetPort, '127.0.0.1');
      sockets.add(target);
      target.on('close', () => sockets.delete(target));
      target.on('error', () => socket.destroy());
      socket.on('close', () => target.destroy());
      target.on('close', () => socket.destroy());
      socket.pipe(target);
      target.pipe(socket);
      socket.resume();
    });
  });

  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const { port } = front.address() as net.AddressInfo;

  return {
    port,
    async close() {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      h2.close();
      agent.destroy();
      await closed;
    },
  };
}
