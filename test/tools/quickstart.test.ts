import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../support/ports';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';
import { readEvents } from '../support/sse';
import { waitFor } from '../support/wait';

/**
 * The quickstart (examples/quickstart) as the README walks through it, run the
 * way a user runs it: the ticket service and `holdline start --tools …
 * --tools-file …` as commands of their own, a token from `holdline token`,
 * each of the three tools called over HTTP and in a realtime session, each
 * call found in Temporal by what the Temporal UI shows, then Ctrl-C.
 */

const ROOT = resolve(__dirname, '../..');
const EXAMPLE = join(ROOT, 'examples/quickstart');
const TICKETS_TOKEN = 'quickstart-secret';
const SCOPES = 'bookings:write tickets:write mcp:notes notes:write';

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * A TypeScript program in a process group of its own, as a terminal runs it,
 * so SIGINT reaches all of it as Ctrl-C would. One process, `node --import
 * tsx`, as the npm scripts run it: the `tsx` binary's parent process SIGKILLs
 * its child when the child is slow (over 30 ms) to report a relayed signal, as
 * happened under CI load, and npm's wrapper always ends "killed by SIGINT".
 */
function start(args: string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  return { child, output: () => output, exited };
}

/** Signals every process of the command's group, the ones it started included, even once the command itself is gone. */
function signalGroup(started: Started | undefined, signal: NodeJS.Signals): void {
  if (!started?.child.pid) return;
  try {
    process.kill(-started.child.pid, signal);
  } catch {
    // Already gone.
  }
}

function groupAlive(started: Started): boolean {
  try {
    process.kill(-started.child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command to its end, killed after `timeoutMs`. */
function run(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn('npx', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', fail);
    child.once('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** The shell of a user who has just cloned the repository: none of the suite's Holdline, Temporal or OpenAI settings. */
function shellEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(HOLDLINE_|TEMPORAL_|OPENAI_|TICKETS_)/.test(name) || ['PORT', 'HOST', 'LOG_LEVEL', 'NODE_OPTIONS'].includes(name)) continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

let dir: string;
let tickets: Started | undefined;
let holdline: Started | undefined;
let ticketsUrl: string;
let url: string;
let env: NodeJS.ProcessEnv;
let token: string;
let connection: Connection;
let temporal: Client;

const post = async (tool: string, args: unknown, options: { key?: string; bearer?: string } = {}) => {
  const response = await fetch(`${url}/v1/tool-calls`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.bearer ?? token}`,
      'content-type': 'application/json',
      ...(options.key ? { 'idempotency-key': options.key } : {}),
    },
    body: JSON.stringify({ tool, arguments: args }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
};
const toolNames = async (bearer: string): Promise<string[]> => {
  const response = await fetch(`${url}/v1/tools`, { headers: { authorization: `Bearer ${bearer}` } });
  return ((await response.json()) as { tools: { name: string }[] }).tools.map((tool) => tool.name);
};
const ticketsOfService = async () => {
  const response = await fetch(`${ticketsUrl}/tickets`, { headers: { authorization: `Bearer ${TICKETS_TOKEN}` } });
  return ((await response.json()) as { tickets: { ticket_id: string; subject: string }[] }).tickets;
};
const mintToken = async (extra: string[] = []) => {
  const result = await run(['tsx', 'src/cli/holdline.ts', 'token', '--user', 'alice', '--scope', SCOPES, ...extra], env, 60_000);
  if (result.code !== 0) throw new Error(`holdline token exited ${result.code}: ${result.stderr}`);
  return result.stdout.trim();
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-quickstart-'));
  const [ticketsPort, port] = await Promise.all([freePort(), freePort()]);

  // Terminal 1: the ticket service.
  tickets = start(['examples/quickstart/ticket-service.ts'], shellEnv({ TICKETS_PORT: String(ticketsPort), TICKETS_TOKEN }));
  ticketsUrl = `http://127.0.0.1:${ticketsPort}`;
  await waitFor(
    async () => {
      if (tickets!.child.exitCode !== null) throw new Error(`the ticket service exited ${tickets!.child.exitCode}:\n${tickets!.output()}`);
      return fetch(`${ticketsUrl}/tickets`, { headers: { authorization: `Bearer ${TICKETS_TOKEN}` } }).then((r) => r.status === 200, () => false);
    },
    60_000,
    'the ticket service answering',
  );

  // The tools file as shipped, but pointing at the port the ticket service got.
  const shipped = readFileSync(join(EXAMPLE, 'holdline.tools.yaml'), 'utf8');
  expect(shipped).toContain('url: http://127.0.0.1:4100/tickets');
  const toolsFile = join(dir, 'holdline.tools.yaml');
  writeFileSync(toolsFile, shipped.replace('http://127.0.0.1:4100/', `${ticketsUrl}/`));

  // Terminal 2: Holdline, against the suite's dev server instead of an embedded one.
  env = shellEnv({
    TEMPORAL_ADDRESS: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!,
    TEMPORAL_TASK_QUEUE: `quickstart-${process.pid}-${Date.now()}`,
    HOLDLINE_DATA_DIR: join(dir, 'data'),
    PORT: String(port),
    LOG_LEVEL: 'warn',
    TICKETS_TOKEN,
  });
  url = `http://127.0.0.1:${port}`;
  holdline = start(['src/cli/holdline.ts', 'start', '--tools', 'examples/quickstart/my-tools.ts', '--tools-file', toolsFile], env);
  await waitFor(
    async () => {
      if (holdline!.child.exitCode !== null) throw new Error(`holdline start exited ${holdline!.child.exitCode}:\n${holdline!.output()}`);
      return fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
    },
    150_000,
    'GET /readyz 200',
  );

  token = await mintToken();
  connection = await Connection.connect({ address: process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS! });
  temporal = new Client({ connection, namespace: 'default' });
}, 240_000);

afterAll(async () => {
  await connection?.close();
  for (const started of [holdline, tickets]) signalGroup(started, 'SIGKILL');
  await Promise.all([holdline?.exited, tickets?.exited]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** How the Temporal UI shows a call: its search attributes by name, and its memo. */
async function inTemporal(workflowId: string) {
  const description = await temporal.workflow.getHandle(workflowId).describe();
  const attributes = Object.fromEntries(description.typedSearchAttributes.getAll().map((pair) => [pair.key.name, pair.value]));
  return { status: description.status.name, attributes, memo: description.memo as Record<string, any> };
}

/** The workflow ids a Temporal UI search (a visibility query) finds; visibility lags a little behind the start. */
async function found(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of temporal.workflow.list({ query })) ids.push(execution.workflowId);
  return ids;
}

describe('the quickstart', () => {
  const workflows = new Map<string, string>();

  it('serves the TypeScript tool, the HTTP tool and the allow-listed MCP tools, under their configured names', async () => {
    const names = await toolNames(token);
    expect(names.sort()).toEqual(['book_table', 'create_ticket', 'notes_add', 'notes_search']);
  });

  it('calls the TypeScript tool over HTTP: an ack after 1 s, progress, then the booking', async () => {
    const args = { restaurant: 'Chez Anna', party_size: 4, time: '19:30' };
    const accepted = await post('book_table', args, { key: 'dinner-1' });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ status: 'accepted', tool: 'book_table', call_id: 'dinner-1', workflow_id: 'acme/alice/dinner-1' });
    const events = await readEvents(`${url}/v1/tool-calls/dinner-1/events`, token, 20_000);
    expect(events.filter((e) => e.event === 'progress').map((e) => e.data.progress.stage)).toContain('confirming');
    const completed = events.at(-1)!;
    expect(completed.event).toBe('completed');
    expect(completed.data.result).toMatchObject({ status: 'ok', data: { ...args, booking_id: expect.stringMatching(/^B-\d+$/) } });

    const final = await fetch(`${url}/v1/tool-calls/dinner-1`, { headers: { authorization: `Bearer ${token}` } });
    const envelope = (await final.json()) as Record<string, any>;
    expect(envelope).toMatchObject({ status: 'ok', data: args });
    // The same key again is the same call: its result, not a second booking.
    const again = await post('book_table', args, { key: 'dinner-1' });
    expect(again).toMatchObject({ status: 200, body: { status: 'ok', data: envelope.data } });

    // The refusal comes after 0.8 s of checking; on a loaded machine that can pass the 1 s ack,
    // and then it arrives as the call's final event instead of the answer to the POST.
    const refusal = await post('book_table', { ...args, party_size: 10 }, { key: 'dinner-10' });
    const refused = {
      body: refusal.body.status === 'accepted' ? (await readEvents(`${url}/v1/tool-calls/dinner-10/events`, token, 20_000)).at(-1)!.data.result : refusal.body,
    };
    expect(refused.body).toMatchObject({ status: 'error', error_code: 'TOOL_FAILED', retryable: false });
    expect(refused.body.message).toContain('no table for 10');
    workflows.set('book_table', accepted.body.workflow_id);
  });

  it('calls the HTTP tool with its secret header, and a repeated key opens one ticket', async () => {
    const before = (await ticketsOfService()).length;
    const answer = await post('create_ticket', { subject: 'The printer is on fire', priority: 'high' }, { key: 'printer-1' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'ok', tool: 'create_ticket', data: { status: 'open', subject: 'The printer is on fire', priority: 'high' }, workflow_id: 'acme/alice/printer-1' });
    const again = await post('create_ticket', { subject: 'The printer is on fire', priority: 'high' }, { key: 'printer-1' });
    expect(again.body.data.ticket_id).toBe(answer.body.data.ticket_id);
    const opened = await ticketsOfService();
    expect(opened).toHaveLength(before + 1);
    expect(opened.at(-1)).toMatchObject({ ticket_id: answer.body.data.ticket_id, subject: 'The printer is on fire' });

    // The service itself honours the key, so a retried attempt (a new request under the same key) opens nothing more.
    const direct = async () =>
      (await fetch(`${ticketsUrl}/tickets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TICKETS_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': answer.body.workflow_id },
        body: JSON.stringify({ subject: 'The printer is on fire', priority: 'high' }),
      }).then((r) => r.json())) as Record<string, unknown>;
    expect(await direct()).toMatchObject({ ticket_id: answer.body.data.ticket_id });
    expect(await ticketsOfService()).toHaveLength(before + 1);

    const invalid = await post('create_ticket', { subject: 'hi there', severity: 'urgent' });
    expect(invalid.body).toMatchObject({ status: 'error', error_code: 'INVALID_ARGUMENTS' });
    expect(await ticketsOfService()).toHaveLength(before + 1);
    workflows.set('create_ticket', answer.body.workflow_id);
  });

  it("calls the MCP server's tools over HTTP, and never a tool the allow-list leaves out", async () => {
    const search = await post('notes_search', { query: 'refund' });
    expect(search.body).toMatchObject({ status: 'ok', data: { notes: [{ id: 'n-2', text: 'Refunds over 500 EUR need a manager.' }] } });
    const add = await post('notes_add', { text: 'The printer was replaced.' }, { key: 'note-1' });
    expect(add.body).toMatchObject({ status: 'ok', data: { text: 'The printer was replaced.' } });
    const readBack = await post('notes_search', { query: 'printer' });
    expect(readBack.body.data.notes).toEqual([{ id: add.body.data.id, text: 'The printer was replaced.' }]);

    expect(await post('delete_note', { id: 'n-1' })).toMatchObject({ status: 404, body: { error_code: 'UNKNOWN_TOOL' } });
    expect(await post('search_notes', { query: 'x' })).toMatchObject({ status: 404, body: { error_code: 'UNKNOWN_TOOL' } });
    workflows.set('notes_search', search.body.workflow_id);
    workflows.set('notes_add', add.body.workflow_id);
  });

  it('calls each of the three kinds of tool from a realtime session', async () => {
    let client: RealtimeTestClient | undefined;
    try {
      client = await connectRealtime(url, { token });
      const updated = await client.next((e) => e.type === 'session.updated', 'session.updated');
      expect(updated.session.tools.map((t: { name: string }) => t.name).sort()).toEqual(['book_table', 'create_ticket', 'notes_add', 'notes_search']);

      const said: [string, unknown][] = [
        ['book_table', { restaurant: 'Luigi', party_size: 2, time: '20:00' }],
        ['create_ticket', { subject: 'The VPN is down' }],
        ['notes_search', { query: 'office' }],
      ];
      for (const [tool, args] of said) {
        client.say(`call ${tool} with ${JSON.stringify(args)}`);
        const completed = await client.next((e) => e.type === 'tool_call.completed' && e.tool === tool, `tool_call.completed of ${tool}`, 30_000);
        expect(completed.result).toMatchObject({ status: 'ok', tool });
        expect(completed.workflow_id).toMatch(/^acme\/alice\/rt-/);
        workflows.set(`realtime ${tool}`, completed.workflow_id);
        // The model has spoken from the result and is idle before the next line is said.
        const at = client.events.indexOf(completed);
        await waitFor(
          () => client!.events.some((e, i) => i > at && e.type === 'response.output_text.done') && client!.all('response.created').length === client!.all('response.done').length,
          15_000,
          `the answer about ${tool}`,
        );
      }
      // The slow one was acknowledged and reported its progress before its result.
      expect(client.all('tool_call.accepted').find((e) => e.tool === 'book_table')).toBeDefined();
      expect(client.all('tool_call.progress').filter((e) => e.tool === 'book_table').length).toBeGreaterThan(0);
      const results = client.all('tool_call.completed').map((e) => e.result.data);
      expect(results[0]).toMatchObject({ restaurant: 'Luigi', party_size: 2 });
      expect(results[1]).toMatchObject({ subject: 'The VPN is down', status: 'open' });
      expect(results[2]).toEqual({ notes: [{ id: 'n-1', text: 'The Lisbon office closes at 18:00 on Fridays.' }] });
      expect(client.all('tool_call.failed')).toEqual([]);
    } finally {
      await client?.close();
    }
  }, 90_000);

  it('leaves every call in Temporal with the tool, tenant, outcome and arguments the UI shows', async () => {
    expect([...workflows.keys()].sort()).toEqual(['book_table', 'create_ticket', 'notes_add', 'notes_search', 'realtime book_table', 'realtime create_ticket', 'realtime notes_search']);
    for (const [what, workflowId] of workflows) {
      const tool = what.replace(/^realtime /, '');
      const seen = await inTemporal(workflowId);
      expect({ what, ...seen }).toMatchObject({
        what,
        status: 'COMPLETED',
        attributes: { HoldlineTool: tool, HoldlineTenant: 'acme', HoldlineStatus: 'ok' },
        memo: { user_id: 'alice' },
      });
    }
    expect((await inTemporal('acme/alice/printer-1')).memo.arguments).toEqual({ subject: 'The printer is on fire', priority: 'high' });
    // What a search in the Temporal UI finds.
    const ticketCalls = [workflows.get('create_ticket')!, workflows.get('realtime create_ticket')!];
    await waitFor(
      async () => {
        const ids = await found('HoldlineTool = "create_ticket" AND HoldlineTenant = "acme"');
        return ticketCalls.every((id) => ids.includes(id));
      },
      15_000,
      'both ticket calls found by a visibility query',
    );
  }, 60_000);

  it('shows another tenant only the tools the tenants section gives it', async () => {
    const other = await mintToken(['--tenant', 'globex']);
    expect((await toolNames(other)).sort()).toEqual(['book_table', 'notes_search']);
    expect(await post('create_ticket', { subject: 'Not for you' }, { bearer: other })).toMatchObject({ status: 404, body: { error_code: 'UNKNOWN_TOOL' } });
  }, 60_000);

  it('stops on Ctrl-C and exits 0', async () => {
    signalGroup(holdline, 'SIGINT');
    const timeout = new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), 30_000).unref());
    const outcome = await Promise.race([holdline!.exited, timeout]);
    if (outcome === 'timeout' || outcome.code !== 0) throw new Error(`holdline start did not exit 0 after SIGINT (${JSON.stringify(outcome)}):\n${holdline!.output()}`);
    await expect(fetch(`${url}/readyz`)).rejects.toThrow();
    // Nothing it started (the MCP server's process) outlives it.
    await waitFor(() => !groupAlive(holdline!), 10_000, 'the process group of holdline start gone');
  }, 45_000);
});
