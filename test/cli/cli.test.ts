import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshKey, JWT_SECRET, startHarness, type Harness } from '../support/harness';
import { freePort } from '../support/ports';
import { waitFor } from '../support/wait';

/**
 * The `holdline` command as a script runs it: a child process against a real
 * Holdline (the harness's server and worker) on the suite's Temporal, judged
 * by its exit code and its output (`--json` lines parsed).
 */
jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const HOLDLINE = join(ROOT, 'src', 'cli', 'holdline.ts');

let h: Harness;
/** Refunds that take ~15 s, so a cancel always finds one running (the command takes seconds to start on a busy machine). */
let slow: Harness;
let token: string;
let dir: string;

beforeAll(async () => {
  // Refunds take ~2 s, long enough to watch and to cancel.
  h = await startHarness({ refundTimings: { stageMs: 700, progressEveryMs: 100 } });
  slow = await startHarness({ refundTimings: { stageMs: 5_000, progressEveryMs: 200 } });
  token = await h.token();
  dir = mkdtempSync(join(tmpdir(), 'holdline-cli-'));
}, 30_000);

afterAll(async () => {
  await h?.stop();
  await slow?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's lines parsed as JSON (for --json). */
  json: any[];
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(TSX, [HOLDLINE, ...args], {
    cwd: ROOT,
    env: { ...process.env, HOLDLINE_URL: h.url, TOKEN: token, HOLDLINE_DATA_DIR: dir, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs the command to its end (killed after `timeoutMs`). */
function holdline(args: string[], env: Record<string, string> = {}, options: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  const child = start(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: options.input === undefined ? jsonLines(stdout) : [] });
    }),
  );
}

/** The lines that are JSON objects (human output's pretty-printed envelope spans lines and is skipped). */
function jsonLines(text: string): any[] {
  return text.split('\n').flatMap((line) => {
    try {
      return line.startsWith('{') ? [JSON.parse(line) as unknown] : [];
    } catch {
      return [];
    }
  });
}

/** The final envelope of a call, as the API gives it. */
async function envelopeOf(callId: string): Promise<any> {
  const answer = await h.get(`/v1/tool-calls/${encodeURIComponent(callId)}?wait=20000`);
  return answer.body;
}

describe('every command', () => {
  it('prints its usage for --help and exits 0', async () => {
    const commands = ['start', 'token', 'tools', 'call', 'calls', 'watch', 'approve', 'deny', 'cancel', 'talk', 'replay', 'record', 'deployment'];
    // Three at a time: the machine is shared.
    for (let i = 0; i < commands.length; i += 3) {
      const batch = commands.slice(i, i + 3);
      const runs = await Promise.all(batch.map((command) => holdline([command, '--help'], {}, { timeoutMs: 60_000 })));
      runs.forEach((run, j) => {
        expect(run.code).toBe(0);
        expect(run.stdout).toContain(`Usage: holdline ${batch[j]}`);
      });
    }
  }, 240_000);
});

describe('tools', () => {
  it('lists the catalog as a table and as JSON lines', async () => {
    const [table, json] = await Promise.all([holdline(['tools']), holdline(['tools', '--json'])]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^TOOL\s+ARGUMENTS\s+DESCRIPTION/);
    expect(table.stdout).toMatch(/refund_order\s+order_id amount_cents\? reason/);
    expect(json.code).toBe(0);
    expect(json.json.map((tool) => tool.name)).toEqual(expect.arrayContaining(['lookup_order', 'refund_order', 'cancel_order']));
    expect(json.json.find((tool) => tool.name === 'lookup_order').parameters.required).toEqual(['order_id']);
  });

  it('signs a development token with --scope when no token is given', async () => {
    const run = await holdline(['tools', '--json', '--scope', 'orders:read'], { TOKEN: '', HOLDLINE_JWT_SECRET: JWT_SECRET });
    expect(run.code).toBe(0);
    expect(run.json.map((tool) => tool.name)).toEqual(['lookup_order']);
  });
});

describe('call', () => {
  it('prints the ok envelope of a fast tool and exits 0', async () => {
    const run = await holdline(['call', 'lookup_order', '{"order_id":"A-1001"}', '--json']);
    expect(run.code).toBe(0);
    expect(run.json).toHaveLength(1);
    expect(run.json[0]).toMatchObject({ status: 'ok', tool: 'lookup_order', data: { order_id: 'A-1001' } });
  });

  it('shows a slow refund\'s ack, its progress, then the ok envelope (--json)', async () => {
    const key = freshKey('cli-refund');
    const run = await holdline(['call', 'refund_order', '{"order_id":"A-1005","amount_cents":100,"reason":"cli test"}', '--key', key, '--json']);
    expect(run.code).toBe(0);
    const [ack, ...rest] = run.json;
    expect(ack).toMatchObject({ status: 'accepted', call_id: key, tool: 'refund_order' });
    const progress = rest.filter((line) => line.type === 'tool_call.progress').map((line) => line.progress.pct as number);
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(rest.at(-1)).toMatchObject({ status: 'ok', call_id: key, data: { order_id: 'A-1005', amount_cents: 100 } });
  });

  it('shows progress lines on stderr and the envelope on stdout without --json', async () => {
    const run = await holdline(['call', 'refund_order', '{"order_id":"A-1005","amount_cents":100,"reason":"cli test"}']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^accepted: refund_order \S+ \(Working on refund_order/);
    expect(run.stdout).toContain('"status": "ok"');
    expect(run.stderr).toMatch(/\d+% (verify|payment|record): /);
  });

  it('exits 1 with the envelope when the call ends in an error', async () => {
    const run = await holdline(['call', 'lookup_order', '{"order_id":"A-9999"}', '--json']);
    expect(run.code).toBe(1);
    expect(run.json.at(-1)).toMatchObject({ status: 'error' });
    expect(run.stderr).toContain('the call ended in');
  });

  it('exits 1 with the UNKNOWN_TOOL message for a tool that does not exist', async () => {
    const run = await holdline(['call', 'no_such_tool', '{}', '--json']);
    expect(run.code).toBe(1);
    expect(run.json[0]).toMatchObject({ status: 'error', error_code: 'UNKNOWN_TOOL' });
    expect(run.stderr).toContain('UNKNOWN_TOOL');
    expect(run.stderr).toContain('npx holdline tools');
  });

  it('exits 2 when the arguments are not JSON, before talking to anyone', async () => {
    const run = await holdline(['call', 'lookup_order', '{order_id: A-1001}'], { HOLDLINE_URL: 'http://127.0.0.1:1' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('the arguments are not JSON');
  });
});

describe('approvals and cancellation', () => {
  it('leaves a cancel_order waiting for approval, and approve runs it', async () => {
    const key = freshKey('cli-approve');
    const call = await holdline(['call', 'cancel_order', '{"order_id":"A-1001","reason":"cli test"}', '--key', key, '--json']);
    expect(call.code).toBe(0);
    expect(call.json[0]).toMatchObject({ status: 'accepted', call_id: key });
    expect(call.json.at(-1)).toMatchObject({ status: 'awaiting_approval', call_id: key });

    const approve = await holdline(['approve', key, '--json']);
    expect(approve.code).toBe(0);
    expect(await envelopeOf(key)).toMatchObject({ status: 'ok', data: { order_id: 'A-1001', state: 'cancelled' } });
  });

  it('deny ends a cancel_order in APPROVAL_DENIED; call --wait sees it', async () => {
    const key = freshKey('cli-deny');
    const waiting = holdline(['call', 'cancel_order', '{"order_id":"A-1004","reason":"cli test"}', '--key', key, '--json', '--wait']);
    await waitFor(async () => (await h.get(`/v1/tool-calls/${key}`)).body.status === 'awaiting_approval', 15_000, 'the call waits for approval');
    const deny = await holdline(['deny', key]);
    expect(deny.code).toBe(0);
    expect(deny.stdout).toContain(`denied ${key}`);
    const call = await waiting;
    expect(call.code).toBe(1);
    expect(call.json.at(-1)).toMatchObject({ status: 'error', error_code: 'APPROVAL_DENIED' });
    expect(h.store.findOrder('acme', 'A-1004')?.state).toBe('placed');
  });

  it('cancels a running refund', async () => {
    const key = freshKey('cli-cancel');
    expect((await slow.call('refund_order', { order_id: 'A-1003', amount_cents: 100, reason: 'cli test' }, { key })).status).toBe(202);
    const cancel = await holdline(['cancel', key, '--json'], { HOLDLINE_URL: slow.url });
    expect(cancel.code).toBe(0);
    expect(cancel.json[0]).toMatchObject({ status: 'cancel_requested', cancellable: true, call_id: key });
    const envelope = await slow.get(`/v1/tool-calls/${key}?wait=20000`);
    expect(envelope.body).toMatchObject({ status: 'error', error_code: 'CANCELLED' });
    expect(slow.store.findRefund('acme', `acme/alice/${key}`)).toBeUndefined();
  });

  it('exits 5 for a call that does not exist (or is not yours)', async () => {
    const [approve, other] = await Promise.all([
      holdline(['approve', freshKey('nothing')]),
      holdline(['cancel', freshKey('nothing'), '--user', 'bob']),
    ]);
    for (const run of [approve, other]) {
      expect(run.code).toBe(5);
      expect(run.stderr).toContain('no such call (or not yours)');
    }
  });
});

describe('connection and credentials', () => {
  it('exits 3 and says how to start Holdline when nothing answers', async () => {
    const run = await holdline(['tools'], { HOLDLINE_URL: `http://127.0.0.1:${await freePort()}` });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('npx holdline start');
  });

  it('exits 4 and says how to get a token when the token is refused', async () => {
    const run = await holdline(['calls'], { TOKEN: 'not-a-token' });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain('npx holdline token');
  });

  it('exits 2 and says how to get a token when there is none', async () => {
    const run = await holdline(['tools'], { TOKEN: '' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('npx holdline token');
  });
});

describe('record and replay', () => {
  const address = () => process.env.HOLDLINE_TEST_TEMPORAL_ADDRESS!;

  it('records a call\'s history, replays it (exit 0), and fails replay against drifted code (exit 1)', async () => {
    const key = freshKey('cli-replay');
    const call = await holdline(['call', 'refund_order', '{"order_id":"A-1005","amount_cents":100,"reason":"replay"}', '--key', key, '--json']);
    expect(call.code).toBe(0);
    const workflowId = call.json[0].workflow_id as string;
    const out = join(dir, 'fixture.json');

    const record = await holdline(['record', workflowId, '--out', out, '--address', address(), '--json']);
    expect(record.code).toBe(0);
    expect(record.json[0]).toMatchObject({ workflow_id: workflowId, out });
    expect(record.json[0].events).toBeGreaterThan(5);
    expect(existsSync(out)).toBe(true);

    const [live, drifted] = await Promise.all([
      holdline(['replay', workflowId, '--address', address(), '--json'], {}, { timeoutMs: 90_000 }),
      holdline(['replay', out, '--workflows', 'test/replay/drifted-workflow.ts', '--json'], {}, { timeoutMs: 90_000 }),
    ]);
    expect(live.code).toBe(0);
    expect(live.json[0]).toEqual({ workflow_id: workflowId, replayed: true });
    expect(drifted.code).toBe(1);
    expect(drifted.json[0]).toMatchObject({ replayed: false, nondeterministic: true });
    expect(drifted.stderr).toContain('does not replay');
  }, 120_000);

  it('exits 5 for a workflow that does not exist, 3 when Temporal does not answer', async () => {
    const [missing, down] = await Promise.all([
      holdline(['replay', 'acme/alice/nothing-here', '--address', address()]),
      holdline(['record', 'acme/alice/x', '--out', join(dir, 'x.json'), '--address', `127.0.0.1:${await freePort()}`]),
    ]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('no workflow acme/alice/nothing-here');
    expect(down.code).toBe(3);
    expect(down.stderr).toContain('npx holdline start');
  });
});

describe('talk', () => {
  it('opens a realtime session and closes it on /quit', async () => {
    const run = await holdline(['talk'], {}, { input: '/quit\n' });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^\[session\] \S+/m);
    expect(run.stdout).toContain('[closed]');
  });
});

// These two read the call list and the live event stream (GET /v1/tool-calls, GET /v1/events).
describe('calls', () => {
  it('lists calls filtered by tool, status and session', async () => {
    const session = `cli-session-${freshKey()}`;
    const key = freshKey('cli-list');
    await holdline(['call', 'lookup_order', '{"order_id":"A-1002"}', '--key', key, '--session', session]);
    await h.call('cancel_order', { order_id: 'A-1001', reason: 'cli list' }, { key: freshKey('cli-list-wait') });
    await waitFor(async () => (await h.get(`/v1/tool-calls?session=${session}`)).body.calls?.length === 1, 15_000, 'the call is visible');

    const [bySession, byTool, byStatus, table] = await Promise.all([
      holdline(['calls', '--session', session, '--json']),
      holdline(['calls', '--tool', 'refund_order', '--limit', '3', '--json']),
      holdline(['calls', '--status', 'awaiting_approval', '--json']),
      holdline(['calls', '--session', session]),
    ]);
    expect(bySession.code).toBe(0);
    expect(bySession.json).toEqual([expect.objectContaining({ call_id: key, tool: 'lookup_order', session_id: session, status: 'ok', user_id: 'alice' })]);
    expect(byTool.json.length).toBeGreaterThan(0);
    expect(byTool.json.length).toBeLessThanOrEqual(3);
    expect(byTool.json.every((call) => call.tool === 'refund_order')).toBe(true);
    expect(byStatus.json.length).toBeGreaterThan(0);
    expect(byStatus.json.every((call) => call.status === 'awaiting_approval')).toBe(true);
    expect(table.stdout).toMatch(/^CALL\s+TOOL\s+USER\s+SESSION\s+STATUS/);
    expect(table.stdout).toContain(key);
  });
});

describe('watch', () => {
  it('prints a call starting and finishing, one JSON line per event', async () => {
    const child = start(['watch', '--json']);
    const lines: any[] = [];
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffer.slice(0, end)));
        buffer = buffer.slice(end + 1);
      }
    });
    try {
      await waitFor(() => lines.some((line) => line.type === 'calls.snapshot'), 15_000, 'the snapshot');
      const key = freshKey('cli-watch');
      expect((await h.call('refund_order', { order_id: 'A-1005', amount_cents: 100, reason: 'watch' }, { key })).status).toBe(202);
      await waitFor(() => lines.some((line) => line.type === 'call.finished' && line.call.call_id === key), 20_000, 'the call finishes');
      const ofCall = lines.filter((line) => line.call?.call_id === key || line.call_id === key).map((line) => line.type);
      expect(ofCall[0]).toBe('call.started');
      expect(ofCall).toContain('call.progress');
      expect(ofCall.at(-1)).toBe('call.finished');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
