/**
 * How every server of the local stack listens: on loopback only (nothing of it is meant to be reached from another
 * machine), on the given port or a free one.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0: a free port); resolves to the port, rejects when the port is taken. */
export function listenOnLoopback(server: http.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}
