import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, WorkflowClient } from '@temporalio/client';
import { startCluster, type Cluster } from '../../src/cluster/cluster';

/**
 * `npm run cluster` as a test: PostgreSQL, the Temporal server on it, Redis,
 * two workers and two servers as separate processes. One call through each
 * server; the cluster's own tests (test/cluster/*) build on `startCluster`.
 */
jest.setTimeout(240_000);

let cluster: Cluster;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-cluster-'));
  cluster = await startCluster({ dir, env: { LOG_LEVEL: 'info' } });
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run cluster', () => {
  it('starts every piece as a process of its own, by name', () => {
    expect(Object.keys(cluster.processes)).toEqual(['postgres', 'redis', 'temporal', 'worker-1', 'worker-2', 'server-1', 'server-2']);
    expect(cluster.servers).toHaveLength(2);
    const pids = Object.values(cluster.processes).map((p) => p.pid);
    expect(new Set(pids).size).toBe(7);
    expect(pids.every((pid) => typeof pid === 'number' && pid !== process.pid)).toBe(true);
  });

  it('answers a call through each server, run by the Temporal server on PostgreSQL', async () => {
    const token = await cluster.token({ tenant: 'acme', user: 'alice', scopes: ['orders:read'] });
    const connection = await Connection.connect({ address: cluster.temporalAddress });
    try {
      const temporal = new WorkflowClient({ connection, namespace: cluster.namespace });
      for (const server of cluster.servers) {
        const response = await fetch(`${server}/v1/tool-calls`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ tool: 'lookup_order', arguments: { order_id: 'A-1001' } }),
        });
        const envelope = (await response.json()) as { status: string; data?: { order_id: string }; workflow_id: string };
        expect(envelope).toMatchObject({ status: 'ok', data: { order_id: 'A-1001' } });
        const described = await temporal.getHandle(envelope.workflow_id).describe();
        expect(described.status.name).toBe('COMPLETED');
      }
    } finally {
      await connection.close();
    }
  });

  it('restarts one process on its port, and stop() leaves none running', async () => {
    const server = cluster.process('server-2');
    const before = server.pid;
    await server.kill('SIGKILL');
    expect(server.alive).toBe(false);
    await server.start();
    expect(server.pid).not.toBe(before);
    const ready = await fetch(`${cluster.servers[1]}/readyz`);
    expect(ready.status).toBe(200);

    const processes = Object.values(cluster.processes);
    await cluster.stop();
    expect(processes.filter((p) => p.alive).map((p) => p.name)).toEqual([]);
  });
});
