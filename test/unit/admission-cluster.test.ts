import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { startLocalRedis, type LocalRedis } from '../../src/cluster/redis-server';
import { ClusterAdmission, type AdmissionReport } from '../../src/gateway/admission';
import { openRedis, redisReady } from '../../src/runtime/redis';
import { freePort } from '../support/ports';

jest.setTimeout(20_000);

let redis: LocalRedis;
let dir: string;
const connections: Redis[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-admission-'));
  redis = await startLocalRedis({ port: await freePort(), dir });
});
afterAll(async () => {
  connections.forEach((connection) => connection.disconnect());
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function server(report: AdmissionReport, serverId: string): Promise<{ view: ClusterAdmission; state: AdmissionReport }> {
  const connection = openRedis(redis.url, 'admission-test', pino({ level: 'silent' }));
  connections.push(connection);
  await redisReady(connection);
  const state = { ...report };
  return { view: new ClusterAdmission(connection, { report: () => state, logger: pino({ level: 'silent' }), serverId, timeoutMs: 200 }), state };
}

describe('ClusterAdmission', () => {
  it('degrades a calm server while another one sheds, and no longer once it stops shedding', async () => {
    const a = await server({ limit: 8, in_flight: 8, queue: 30, mode: 'shedding' }, 'a');
    const b = await server({ limit: 32, in_flight: 0, queue: 0, mode: 'normal' }, 'b');
    await a.view.exchange();
    await b.view.exchange();
    expect(b.view.others()).toEqual([{ server: 'a', limit: 8, in_flight: 8, queue: 30, mode: 'shedding' }]);
    expect(b.view.floor()).toBe('degraded');
    expect(a.view.floor()).toBe('normal');

    a.state.mode = 'degraded';
    await a.view.exchange();
    await b.view.exchange();
    expect(b.view.floor()).toBe('normal');
  });

  it('falls back to this server alone, within its bound, when Redis stops answering', async () => {
    const a = await server({ limit: 8, in_flight: 8, queue: 30, mode: 'shedding' }, 'a2');
    const b = await server({ limit: 32, in_flight: 0, queue: 0, mode: 'normal' }, 'b2');
    await a.view.exchange();
    await b.view.exchange();
    expect(b.view.floor()).toBe('degraded');
    // Redis stalls (SIGSTOP would need the pid): pause every client for longer than the exchange's bound.
    const admin = openRedis(redis.url, 'admission-admin', pino({ level: 'silent' }));
    connections.push(admin);
    await redisReady(admin);
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const started = performance.now();
    await b.view.exchange();
    expect(performance.now() - started).toBeLessThan(600);
    expect(b.view.others()).toEqual([]);
    expect(b.view.floor()).toBe('normal');
  });
});
