import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../support/ports';
import { connectRealtime, spoken, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

/**
 * The package as a user meets it: `npm pack`, installed into a project of its
 * own in a temp directory, then used from a TypeScript tools file through the
 * `holdline` command, from a plain JavaScript main without tsx, and from the
 * type checker. The tarball is built from a copy of the repository's package
 * files, so the build never rewrites the `dist/` of the working tree.
 */

const ROOT = join(__dirname, '..', '..');
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const ZOD_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules', 'zod', 'package.json'), 'utf8')) as { version: string }).version;

let dir: string;
let project: string;
let packed: string[];

/** The environment a user's shell would have: none of this repository's npm, jest, tsx or Holdline settings. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(npm_|HOLDLINE_|TEMPORAL_|OPENAI_|JEST_)/i.test(name) || ['INIT_CWD', 'NODE_OPTIONS', 'PORT', 'HOST', 'LOG_LEVEL'].includes(name)) continue;
    env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((entry) => !entry.startsWith(ROOT))
    .join(delimiter);
  return { ...env, npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', ...extra };
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, killed after `timeoutMs`. */
function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function expectSuccess(result: Run, what: string): void {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code ?? result.signal}\n${result.stdout.slice(-3_000)}\n${result.stderr.slice(-3_000)}`);
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Pids of `temporal server start-dev` processes serving gRPC on `port`. Holdline starts its dev server
 * in a process group of its own (so a terminal's Ctrl-C reaches the worker first), so the group check
 * above does not see it; its command line does.
 */
function devServerPids(port: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const at = args.indexOf('--port');
    if (args.includes('start-dev') && at >= 0 && args[at + 1] === String(port)) pids.push(Number(entry));
  }
  return pids;
}

const TOOLS_TS = `import { z } from 'zod';
import { defineTool, implementTool } from 'holdline';

export const greetUser = defineTool({
  name: 'greet_user',
  description: 'Greets a person by name.',
  input: z.strictObject({ name: z.string().min(1) }),
  output: z.object({ greeting: z.string() }),
  scopes: ['greetings:read'],
  sideEffect: 'read',
  budget: { ackAfterMs: 5_000, timeoutMs: 10_000 },
});

export default [implementTool(greetUser, async ({ name }) => ({ greeting: \`Hello, \${name}!\` }))];
`;

/** The same declaration with a handler whose result does not match the output schema. */
const WRONG_TS = TOOLS_TS.replace('=> ({ greeting: ', '=> ({ salutation: ');

const MAIN_JS = `'use strict';
const { z } = require('zod');
const { createDevToken, defineTool, implementTool, startHoldline } = require('holdline');

const shout = defineTool({
  name: 'shout_text',
  description: 'Repeats a text in capitals.',
  input: z.strictObject({ text: z.string() }),
  output: z.object({ shouted: z.string() }),
  scopes: ['text:read'],
  sideEffect: 'read',
  budget: { ackAfterMs: 5000, timeoutMs: 10000 },
});
const tools = [implementTool(shout, async ({ text }) => ({ shouted: text.toUpperCase() }))];

async function main() {
  const holdline = await startHoldline({ tools });
  try {
    const token = await createDevToken({ tenantId: 'acme', userId: 'bob', scopes: ['text:read'] });
    const response = await fetch(holdline.apiUrl + '/v1/tool-calls', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
      body: JSON.stringify({ tool: 'shout_text', arguments: { text: 'hello' } }),
    });
    const loaded = Object.keys(require.cache);
    const report = {
      status: response.status,
      envelope: await response.json(),
      tools: holdline.tools,
      tsxLoaded: loaded.some((file) => file.includes('/node_modules/tsx/')) || require.extensions['.ts'] !== undefined,
      holdlineFrom: require.resolve('holdline'),
    };
    process.stdout.write('RESULT ' + JSON.stringify(report) + '\\n');
  } finally {
    await holdline.stop();
  }
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack) + '\\n');
  process.exitCode = 1;
});
`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-pack-'));

  // What `npm pack` reads, copied; node_modules linked so the build uses this repository's TypeScript.
  const stage = join(dir, 'stage');
  mkdirSync(stage);
  for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'CHANGELOG.md', 'LICENSE']) {
    if (existsSync(join(ROOT, file))) cpSync(join(ROOT, file), join(stage, file));
  }
  cpSync(join(ROOT, 'src'), join(stage, 'src'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'), 'dir');
  // `prepack` builds dist/ first.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: stage, timeoutMs: 240_000 });
  expectSuccess(pack, 'npm pack');
  const [tarball] = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m))) as { filename: string; files: { path: string }[] }[];
  packed = tarball!.files.map((file) => file.path);

  project = join(dir, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-voice-agent', version: '1.0.0', private: true }, null, 2));
  const install = await run('npm', ['install', join(dir, tarball!.filename), `zod@${ZOD_VERSION}`, '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: project,
    timeoutMs: 240_000,
  });
  expectSuccess(install, 'npm install');

  writeFileSync(join(project, 'my-tools.ts'), TOOLS_TS);
  writeFileSync(join(project, 'wrong-tools.ts'), WRONG_TS);
  writeFileSync(join(project, 'main.js'), MAIN_JS);
  const compilerOptions = {
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    noEmit: true,
    skipLibCheck: true,
    // This repository's Node types, instead of installing them again.
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    types: ['node'],
  };
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['my-tools.ts'] }, null, 2));
  writeFileSync(join(project, 'tsconfig.wrong.json'), JSON.stringify({ extends: './tsconfig.json', files: ['wrong-tools.ts'] }, null, 2));
}, 600_000);

const children: ChildProcess[] = [];
const devServerPorts: number[] = [];
afterAll(() => {
  for (const child of children) {
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
  }
  for (const pid of devServerPorts.flatMap(devServerPids)) process.kill(pid, 'SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * `holdline start --tools ./my-tools.ts` in the installed project, as `npx holdline` runs it but
 * started directly: on Ctrl-C npm exec itself ends 130 whatever its command does, so the exit code
 * is read from holdline. A group of its own, so nothing it started outlives the test.
 */
function startHoldlineCommand(env: NodeJS.ProcessEnv) {
  const child = spawn(join(project, 'node_modules', '.bin', 'holdline'), ['start', '--tools', './my-tools.ts'], {
    cwd: project,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.push(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    output: () => output,
    /** Resolves once GET /readyz answers 200 (and `banner` is in the output, when given); throws with its output if it exits first. */
    ready: (url: string, banner?: string) =>
      waitFor(
        async () => {
          if (child.exitCode !== null) throw new Error(`holdline start exited ${child.exitCode}:\n${output}`);
          if (banner !== undefined && !output.includes(banner)) return false;
          return fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
        },
        120_000,
        banner === undefined ? 'GET /readyz 200' : 'the banner and GET /readyz 200',
      ),
    /** Ctrl-C, as a user stops it. */
    interrupt: () => child.kill('SIGINT'),
    /** Resolves once it has exited 0 after the interrupt; throws with its output otherwise. */
    async exitedAfterSigint(): Promise<void> {
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`holdline start still running 30 s after SIGINT:\n${output}`)), 30_000).unref());
      const { code, signal } = await Promise.race([exited, timeout]);
      if (code !== 0) throw new Error(`holdline start exited ${code ?? signal} after SIGINT:\n${output}`);
    },
  };
}

/** A token from `npx holdline token`, then one greet_user call over HTTP answered 200 ok; returns the token. */
async function greetAdaOverHttp(url: string, env: NodeJS.ProcessEnv): Promise<string> {
  const token = await run('npx', ['holdline', 'token', '--tools', './my-tools.ts', '--user', 'ada'], { cwd: project, env, timeoutMs: 60_000 });
  expectSuccess(token, 'holdline token');
  const bearer = token.stdout.trim();
  const response = await fetch(`${url}/v1/tool-calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tool: 'greet_user', arguments: { name: 'Ada' } }),
    signal: AbortSignal.timeout(30_000),
  });
  expect(response.status).toBe(200);
  expect(await response.json()).toMatchObject({ status: 'ok', data: { greeting: 'Hello, Ada!' }, tool: 'greet_user' });
  return bearer;
}

describe('the packed package', () => {
  it('ships compiled JavaScript, declarations, the README and the CHANGELOG, and no sources', () => {
    expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/holdline.js', 'dist/workflows/index.js']));
    expect(packed.filter((path) => !path.startsWith('dist/') && !['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE'].includes(path))).toEqual([]);
    expect(packed.filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  });

  it('runs a TypeScript tools file with `holdline start`, answers over HTTP and a realtime session, and stops on SIGINT', async () => {
    const port = await freePort();
    const env = userEnv({
      TEMPORAL_ADDRESS: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: `pack-cli-${process.pid}-${Date.now()}`,
      HOLDLINE_DATA_DIR: join(dir, 'cli-data'),
      PORT: String(port),
      LOG_LEVEL: 'warn',
    });
    const holdline = startHoldlineCommand(env);
    const { child } = holdline;
    const url = `http://127.0.0.1:${port}`;
    let client: RealtimeTestClient | undefined;
    try {
      await holdline.ready(url);

      const bearer = await greetAdaOverHttp(url, env);

      client = await connectRealtime(url, { token: bearer });
      const updated = await client.next((e) => e.type === 'session.updated', 'session.updated');
      expect(updated.session.tools.map((t: { name: string }) => t.name)).toEqual(['greet_user']);
      client.say('call greet_user with {"name": "Grace"}');
      const completed = await client.next((e) => e.type === 'tool_call.completed', 'tool_call.completed', 30_000);
      expect(completed.result).toMatchObject({ status: 'ok', data: { greeting: 'Hello, Grace!' } });
      // The model answered from the result.
      await waitFor(() => spoken(client!).includes('Done.'), 10_000, 'spoken answer');
    } finally {
      await client?.close();
      holdline.interrupt();
    }
    await holdline.exitedAfterSigint();
    // Nothing holdline started is left running.
    await waitFor(() => !groupAlive(child.pid!), 10_000, 'every process of the group gone');
  }, 240_000);

  it('starts its own Temporal dev server when TEMPORAL_ADDRESS is unset, serves a tool call and the Temporal UI, and stops it on SIGINT', async () => {
    const [port, temporalPort, uiPort] = [await freePort(), await freePort(), await freePort()];
    devServerPorts.push(temporalPort);
    // A fresh machine: no TEMPORAL_ADDRESS (userEnv drops every TEMPORAL_ variable, TEMPORAL_CLI too), so the
    // package finds the Temporal CLI itself, on PATH or in the build cached under HOME, as `npx holdline start` would.
    const env = userEnv({
      HOLDLINE_DATA_DIR: join(dir, 'embedded-data'),
      PORT: String(port),
      TEMPORAL_DEV_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      LOG_LEVEL: 'info',
    });
    expect(env.TEMPORAL_ADDRESS).toBeUndefined();
    const holdline = startHoldlineCommand(env);
    const { child } = holdline;
    const url = `http://127.0.0.1:${port}`;
    try {
      // Ready when the banner is out and /readyz answers 200: the worker polls the embedded server.
      await holdline.ready(url, 'Holdline is running');
      expect(holdline.output()).toContain(`Temporal:     127.0.0.1:${temporalPort}`);
      expect(devServerPids(temporalPort)).toHaveLength(1);

      const bearer = await greetAdaOverHttp(url, env);

      // The UI the banner and /v1/info point at is the dev server's, and it serves its page.
      const uiUrl = `http://127.0.0.1:${uiPort}`;
      expect(holdline.output()).toContain(`Temporal UI:  ${uiUrl}/namespaces/default/workflows`);
      const info = await fetch(`${url}/v1/info`, { headers: { authorization: `Bearer ${bearer}` }, signal: AbortSignal.timeout(10_000) });
      expect(info.status).toBe(200);
      expect(await info.json()).toMatchObject({ temporal_ui_url: uiUrl, namespace: 'default' });
      const ui = await fetch(`${uiUrl}/namespaces/default/workflows`, { signal: AbortSignal.timeout(10_000) });
      expect(ui.status).toBe(200);
      expect(await ui.text()).toMatch(/<html/i);
    } finally {
      holdline.interrupt();
    }
    await holdline.exitedAfterSigint();
    // The dev server went with it (one was running on that port, checked above): none is left.
    await waitFor(() => !groupAlive(child.pid!), 10_000, 'every process of the group gone');
    await waitFor(() => devServerPids(temporalPort).length === 0, 10_000, `no temporal dev server left on port ${temporalPort}`);
  }, 240_000);

  it('runs from a plain JavaScript main with startHoldline, without tsx', async () => {
    const env = userEnv({
      TEMPORAL_ADDRESS: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!,
      TEMPORAL_TASK_QUEUE: `pack-main-${process.pid}-${Date.now()}`,
      HOLDLINE_DATA_DIR: join(dir, 'main-data'),
      PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    // It must end on its own once stopped: nothing Holdline started keeps the process alive.
    const result = await run('node', ['main.js'], { cwd: project, env, timeoutMs: 120_000 });
    expectSuccess(result, 'node main.js');
    const line = result.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    const report = JSON.parse(line!.slice('RESULT '.length)) as Record<string, unknown>;
    expect(report).toMatchObject({
      status: 200,
      envelope: { status: 'ok', data: { shouted: 'HELLO' } },
      tools: ['shout_text'],
      tsxLoaded: false,
      holdlineFrom: join(project, 'node_modules', 'holdline', 'dist', 'index.js'),
    });
  }, 180_000);

  it('refuses deep imports of its internals', async () => {
    const deep = await run('node', ['-e', "require('holdline/dist/runtime/holdline')"], { cwd: project, timeoutMs: 30_000 });
    expect(deep.code).not.toBe(0);
    expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
    const version = await run('node', ['-p', "require('holdline/package.json').version"], { cwd: project, timeoutMs: 30_000 });
    expectSuccess(version, 'require holdline/package.json');
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('types a handler from its declaration: a result of the wrong shape does not compile', async () => {
    const [right, wrong] = await Promise.all([
      run(TSC, ['-p', 'tsconfig.json'], { cwd: project, timeoutMs: 150_000 }),
      run(TSC, ['-p', 'tsconfig.wrong.json'], { cwd: project, timeoutMs: 150_000 }),
    ]);
    expectSuccess(right, 'tsc on my-tools.ts');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout).toMatch(/wrong-tools\.ts\(\d+,\d+\): error TS2322/);
    expect(wrong.stdout).toContain('salutation');
  }, 180_000);
});
