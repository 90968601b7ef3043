import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CLUSTER_PIECES, DEFAULT_SERVERS, DEFAULT_WORKERS, STORE_DATABASE } from '../../src/cluster/cluster';
import { PINNED_SERVER_VERSION } from '../../src/temporal/server-binary';

/**
 * docker-compose.yml and the Dockerfile, checked without Docker: the compose
 * project declares what `npm run cluster` starts, and the image's commands
 * name files the build produces.
 */
const ROOT = join(__dirname, '..', '..');

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  deploy?: { replicas?: number };
  volumes?: string[];
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

/** The JSON-array CMD of the Dockerfile's last stage. */
function dockerCmd(): string[] {
  const line = dockerfile.split('\n').filter((l) => l.startsWith('CMD ')).pop()!;
  return JSON.parse(line.slice(4)) as string[];
}

/** The TypeScript file a built path comes from: dist/ is src/ (tsconfig.build.json), dist-examples/ is examples/ (tsconfig.examples.json). */
function sourceOf(built: string): string {
  const path = built.replace(/^\.\//, '');
  const [outDir, sources] = path.startsWith('dist-examples/') ? ['dist-examples/', 'examples/'] : ['dist/', 'src/'];
  const rest = path.slice(outDir.length).replace(/\.js$/, '');
  return existsSync(join(ROOT, sources, `${rest}.ts`)) ? join(sources, `${rest}.ts`) : join(sources, rest, 'index.ts');
}

describe('docker-compose.yml', () => {
  it('declares the pieces npm run cluster starts, with as many workers and servers', () => {
    for (const name of [...CLUSTER_PIECES.infrastructure, 'worker', 'server']) expect(services).toHaveProperty(name);
    expect(services.worker!.deploy?.replicas).toBe(DEFAULT_WORKERS);
    expect(services.server!.deploy?.replicas).toBe(DEFAULT_SERVERS);
    expect(services.temporal!.image).toBe(`temporalio/auto-setup:${PINNED_SERVER_VERSION.replace(/^v/, '')}`);
  });

  it('gives workers and servers the environment the cluster runner gives them', () => {
    for (const role of ['worker', 'server']) {
      const env = services[role]!.environment ?? {};
      for (const name of CLUSTER_PIECES.holdlineEnv) expect([role, name, env[name]]).toEqual([role, name, expect.any(String)]);
      expect(env.HOLDLINE_REDIS_URL).toMatch(/^redis:\/\/redis:\d+$/);
      expect(env.HOLDLINE_DATABASE_URL).toMatch(new RegExp(`^postgres://[^@]+@postgres:5432/${STORE_DATABASE}$`));
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(services.postgres!.environment?.POSTGRES_DB).toBe(STORE_DATABASE);
  });

  it('scales servers: no fixed host port on them, one on the load balancer in front', () => {
    expect(services.server!.ports ?? []).toEqual([]);
    expect(services.worker!.ports ?? []).toEqual([]);
    const lb = services.lb!;
    expect(lb.ports).toHaveLength(1);
    const config = lb.volumes!.map((v) => v.split(':')[0]!).find((v) => v.endsWith('nginx.conf'))!;
    expect(readFileSync(join(ROOT, config), 'utf8')).toContain('http://server:3000');
  });

  it('runs the image command of the Dockerfile, for each role', () => {
    const cmd = dockerCmd();
    expect(services.server!.command).toEqual(cmd);
    expect(services.worker!.command).toEqual(cmd.map((arg) => (arg === 'server' ? 'worker' : arg)));
  });
});

describe('the Dockerfile', () => {
  it('runs compiled JavaScript, no tsx, from files the build produces', () => {
    const cmd = dockerCmd();
    expect(cmd.join(' ')).not.toMatch(/tsx|\.ts\b/);
    const script = cmd[1]!;
    const tools = cmd[cmd.indexOf('--tools') + 1]!;
    expect(script).toMatch(/^dist\/.*\.js$/);
    expect(tools).toMatch(/^\.\/dist-examples\//);
    for (const built of [script, tools]) expect(existsSync(join(ROOT, sourceOf(built)))).toBe(true);
    const examples = JSON.parse(readFileSync(join(ROOT, 'tsconfig.examples.json'), 'utf8')) as { compilerOptions: { outDir: string }; include: string[] };
    expect(examples.compilerOptions.outDir).toBe('dist-examples');
    expect(examples.include.some((dir) => sourceOf(tools).startsWith(dir))).toBe(true);
  });

  it('installs production dependencies only in the image it runs', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toContain('COPY --from=deps /app/node_modules');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(runtime).not.toMatch(/COPY (src|examples) /);
  });
});
