import { createServer, type Server } from 'node:net';

/**
 * `count` distinct TCP ports on loopback that were free a moment ago (all held
 * open at once, so none repeats). `below` picks them under a bound instead of
 * from the system's ephemeral range: Temporal keeps membership ports in a
 * PostgreSQL smallint, so they must stay under 32768.
 */
export async function freePorts(count: number, options: { below?: number } = {}): Promise<number[]> {
  const servers: Server[] = [];
  const ports: number[] = [];
  try {
    let attempts = 0;
    while (ports.length < count) {
      if (++attempts > count * 50) throw new Error(`could not find ${count} free ports below ${options.below}`);
      const wanted = options.below ? 10_000 + Math.floor(Math.random() * (options.below - 10_000)) : 0;
      if (ports.includes(wanted)) continue;
      const server = createServer();
      const listening = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false));
        server.listen(wanted, '127.0.0.1', () => resolve(true));
      });
      if (!listening) continue;
      servers.push(server);
      ports.push((server.address() as { port: number }).port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
