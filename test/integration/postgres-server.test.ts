import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { LocalPostgresError, startLocalPostgres, type LocalPostgres } from '../../src/cluster/postgres-server';
import { freePort } from '../support/ports';

describe('startLocalPostgres', () => {
  let dir: string;
  let postgres: LocalPostgres | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'holdline-pg-'));
  });

  afterAll(async () => {
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts a server on loopback, creates a database that answers queries, and stops', async () => {
    const port = await freePort();
    postgres = await startLocalPostgres({ port, dir });
    expect(postgres.url).toBe(`postgres://postgres@127.0.0.1:${port}/postgres`);

    const url = await postgres.createDatabase('store_test');
    expect(await postgres.createDatabase('store_test')).toBe(url); // a second call finds it
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE TABLE t (n int)');
      await client.query('INSERT INTO t VALUES (1), (2)');
      const { rows } = await client.query<{ total: string; db: string }>('SELECT sum(n)::text AS total, current_database() AS db FROM t');
      expect(rows[0]).toEqual({ total: '3', db: 'store_test' });
    } finally {
      await client.end();
    }

    const pid = postgres.pid;
    await postgres.stop();
    postgres = undefined;
    expect(() => process.kill(pid, 0)).toThrow();
    const late = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    await expect(late.connect()).rejects.toThrow();
  }, 60_000);

  it('says how to install PostgreSQL when the binaries are missing', async () => {
    await expect(startLocalPostgres({ port: await freePort(), dir, binDir: join(dir, 'nowhere') })).rejects.toThrow(LocalPostgresError);
    await expect(startLocalPostgres({ port: await freePort(), dir, binDir: join(dir, 'nowhere') })).rejects.toThrow(/apt-get install postgresql/);
  });
});
