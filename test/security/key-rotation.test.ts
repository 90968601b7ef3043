import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import pino from 'pino';
import { loadConfig } from '../../src/runtime/config';
import { createTokenVerifier, reloadKeysOnSighup } from '../../src/runtime/jwt-secret';
import { startHarness, type Harness } from '../support/harness';
import { connectRealtime, type RealtimeTestClient } from '../support/realtime-client';
import { waitFor } from '../support/wait';

const KEY_A = { kid: 'key-a', alg: 'HS256', secret: 'rotation-key-a-rotation-key-a-0000000001' };
const KEY_B = { kid: 'key-b', alg: 'HS256', secret: 'rotation-key-b-rotation-key-b-0000000002' };

interface Made {
  caller: string;
  kid: string;
  startedAt: number;
  endedAt: number;
  status: number;
  errorCode?: string;
  message?: string;
}

let h: Harness;
let dir: string;
let keysFile: string;
let reloading: { reload(): boolean; stop(): void };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'holdline-rotation-'));
  keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify([{ ...KEY_A, signing: true }]));
  const config = loadConfig({ HOLDLINE_DATA_DIR: dir, HOLDLINE_JWT_KEYS: keysFile, HOLDLINE_JWT_MAX_LIFETIME_S: '3600' });
  const { verifier } = createTokenVerifier(config);
  h = await startHarness({ verifier });
  // The path a running Holdline takes: the key file is read again on SIGHUP (jest's sandbox cannot receive the signal itself).
  reloading = reloadKeysOnSighup(verifier, config, pino({ level: 'silent' }));
});
afterAll(async () => {
  reloading?.stop();
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the key file and reloads it, as SIGHUP does; returns when the new keys are in use. */
function rotateTo(keys: object[]): number {
  writeFileSync(keysFile, JSON.stringify(keys));
  expect(reloading.reload()).toBe(true);
  return Date.now();
}

/** Accepted: its result (200), or an ack when a loaded machine ran past the lookup's ack window (202). */
const served = (m: { status: number }) => m.status === 200 || m.status === 202;

describe('rotating the signing key under live traffic', () => {
  it('drops no call and no session: only tokens of the removed key are refused, from its removal on', async () => {
    const made: Made[] = [];
    let running = true;
    // Callers that get a fresh token from the issuer every few calls, as a client refreshes before expiry.
    const caller = async (name: string, refreshEvery: number | undefined) => {
      let token = await h.token({ user: name, ttlSeconds: 600 });
      for (let n = 1; running; n++) {
        if (refreshEvery && n % refreshEvery === 0) token = await h.token({ user: name, ttlSeconds: 600 });
        const startedAt = Date.now();
        const answer = await h.call('lookup_order', { order_id: 'A-1002' }, { token });
        made.push({ caller: name, kid: String(decodeProtectedHeader(token).kid), startedAt, endedAt: Date.now(), status: answer.status, errorCode: answer.body.error_code, message: answer.body.message });
      }
    };
    const refreshing = ['r1', 'r2', 'r3'];
    const traffic = Promise.all([...refreshing.map((name) => caller(name, 4)), caller('keeps-a', undefined)]);
    const callsOf = (name: string, after = 0) => made.filter((m) => m.caller === name && m.startedAt >= after).length;
    const everyoneMade = (count: number, after = 0) => waitFor(() => [...refreshing, 'keeps-a'].every((name) => callsOf(name, after) >= count), 20_000, `${count} calls each`);

    // A realtime session connected with a key-A token, before any rotation.
    const talkerA = await h.token({ user: 'talker' });
    expect(decodeProtectedHeader(talkerA).kid).toBe('key-a');
    const session: RealtimeTestClient = await connectRealtime(h.url, { token: talkerA });
    const { session_id } = await session.next((e) => e.type === 'tool_call.session', 'session');
    session.say('look up order A-1002');
    await session.next((e) => e.type === 'tool_call.completed', 'first result');

    try {
      await everyoneMade(5);
      // 1. Add the new key: every server verifies B before anyone is given a B token.
      const added = rotateTo([{ ...KEY_A, signing: true }, KEY_B]);
      await everyoneMade(5, added);
      // 2. Issue with it.
      const issuing = rotateTo([KEY_A, { ...KEY_B, signing: true }]);
      // 3. Wait out the A tokens still held (here: until every refreshing caller has used a B token; in production, the longest token lifetime).
      await waitFor(() => refreshing.every((name) => made.some((m) => m.caller === name && m.kid === 'key-b' && m.startedAt >= issuing && served(m))), 20_000, 'B tokens in use');
      await waitFor(() => refreshing.every((name) => made.filter((m) => m.caller === name).at(-1)?.kid === 'key-b'), 20_000, 'A tokens refreshed');
      // 4. Remove the old key.
      const removing = Date.now();
      const removed = rotateTo([{ ...KEY_B, signing: true }]);
      await everyoneMade(5, removed);

      // The session connected with an A token keeps working: it was verified when it connected.
      const before = session.all('tool_call.completed').length;
      session.say('look up order A-1001');
      await waitFor(() => session.all('tool_call.completed').length > before, 15_000, 'a result after A was removed');
      expect(session.all('tool_call.completed').at(-1)!.result).toMatchObject({ status: 'ok', data: { order_id: 'A-1001' } });
      expect(session.socket.readyState).toBe(session.socket.OPEN);

      running = false;
      await traffic;

      // No refreshing caller's call failed, through every step.
      const refreshed = made.filter((m) => m.caller !== 'keeps-a');
      expect(refreshed.filter((m) => !served(m))).toEqual([]);
      expect(new Set(refreshed.map((m) => m.kid))).toEqual(new Set(['key-a', 'key-b']));
      // The caller that kept its A token: served until A was removed, refused (saying why) from then on.
      const kept = made.filter((m) => m.caller === 'keeps-a');
      // (A request in flight across the removal may be checked on either side of it: judged are those answered before.)
      expect(kept.filter((m) => m.endedAt < removing).filter((m) => !served(m))).toEqual([]);
      const afterRemoval = kept.filter((m) => m.startedAt >= removed);
      expect(afterRemoval.length).toBeGreaterThanOrEqual(5);
      for (const m of afterRemoval) expect(m).toMatchObject({ status: 401, errorCode: 'UNAUTHENTICATED', message: "The token's kid names no key known here" });

      const metrics = await (await fetch(`${h.url}/metrics`)).text();
      expect(Number(/holdline_auth_failures_total\{reason="unknown_kid"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(afterRemoval.length);
      expect(metrics).toMatch(/holdline_auth_failures_total\{reason="expired"\} 0/);

      // Resuming needs a token of a current key: the old one is refused, a new one resumes the session.
      await session.close();
      const refused = await connectRealtime(h.url, { token: talkerA, query: { session_id } }).then(
        () => 'connected',
        (error: { status: number }) => error,
      );
      expect(refused).toMatchObject({ status: 401 });
      const resumed = await connectRealtime(h.url, { token: await h.token({ user: 'talker' }), query: { session_id } });
      expect(await resumed.next((e) => e.type === 'tool_call.session', 'resumed session')).toMatchObject({ session_id, resumed: true });
      await resumed.close();
    } finally {
      running = false;
      await traffic;
      await session.close();
    }
  });
});
