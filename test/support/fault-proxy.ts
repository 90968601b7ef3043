import { createServer, connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP proxy on loopback in front of a real server, for injecting network
 * faults: in `swallow-answers` mode requests still reach the server but its
 * answers are held back, as when a response is lost after the request landed.
 * `pass` releases what was held and forwards again.
 */
export interface FaultProxy {
  address: string;
  mode: 'pass' | 'swallow-answers';
  setMode(mode: FaultProxy['mode']): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const links = new Set<{ client: Socket; upstream: Socket; held: Buffer[] }>();
  let mode: FaultProxy['mode'] = 'pass';
  const server = createServer((client) => {
    const upstream = connect(port, host);
    const link = { client, upstream, held: [] as Buffer[] };
    links.add(link);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (mode === 'pass') client.write(chunk);
      else link.held.push(chunk);
    });
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy: FaultProxy = {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    get mode() {
      return mode;
    },
    setMode(next) {
      mode = next;
      if (next === 'pass') for (const link of links) for (const chunk of link.held.splice(0)) link.client.write(chunk);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of links) {
          link.client.destroy();
          link.upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
  return proxy;
}
