import { request as httpRequest, Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import type { z } from 'zod';
import { AcceptedEnvelopeSchema, ErrorEnvelopeSchema, ResultEnvelopeSchema } from '../../src/contracts/envelope';
import { functionCallOf, parseClientEvent, parseModelEvent, type Parsed } from '../../src/session/protocol';
import { JWT_SECRET, type Harness } from '../support/harness';
import { deepJsonText, frames, idempotencyKeys, nastyArguments, nastyString, sessionIds, toolNames, VALID_ARGUMENTS, VALID_KEY, VALID_SESSION } from './arbitraries';

/**
 * The properties, written once: `npm test` runs them on a short budget
 * (test/fuzz/*.test.ts) and `npm run fuzz` on a long one (test/fuzz/run.ts).
 * A check throws when its property breaks.
 */

export interface Budget {
  numRuns: number;
  /** Stop generating new cases after this long; the cases run are reported. */
  timeLimitMs: number;
  seed?: number;
}

export interface PropertyReport {
  name: string;
  runs: number;
  failures: number;
  /** The first few failures, each with the case that broke it. */
  examples: string[];
  durationMs: number;
}

/**
 * Runs a property. `assert` stops at the first failure and shrinks it (for
 * jest); `count` runs the whole budget and counts the cases that broke it.
 */
export async function runProperty<T>(name: string, arbitrary: fc.Arbitrary<T>, check: (input: T) => Promise<void> | void, budget: Budget, mode: 'assert' | 'count'): Promise<PropertyReport> {
  const started = performance.now();
  let runs = 0;
  let failures = 0;
  const examples: string[] = [];
  const parameters = { numRuns: budget.numRuns, interruptAfterTimeLimit: budget.timeLimitMs, markInterruptAsFailure: false, ...(budget.seed !== undefined ? { seed: budget.seed } : {}) };
  if (mode === 'assert') {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        runs++;
        await check(input);
      }),
      parameters,
    );
  } else {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (input) => {
        runs++;
        try {
          await check(input);
        } catch (error) {
          failures++;
          if (examples.length < 5) examples.push(`${(error as Error).message}\n    case: ${preview(input)}`);
        }
      }),
      parameters,
    );
  }
  return { name, runs, failures, examples, durationMs: Math.round(performance.now() - started) };
}

export class PropertyBroken extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

function must(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PropertyBroken(message);
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (v === undefined ? '<undefined>' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text;
}

function schemaHolds(schema: z.ZodType, value: unknown, what: string): void {
  const parsed = schema.safeParse(value);
  must(parsed.success, `${what} breaks its envelope schema: ${parsed.success ? '' : parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}; got ${preview(value)}`);
}

// ---------------------------------------------------------------------------
// Tokens

/** A token and, when it is valid, who it names. */
export interface TokenCase {
  label: string;
  token: string | undefined;
  principal?: { tenantId: string; userId: string; scopes: ReadonlySet<string> };
}

const ALL_SCOPES = ['orders:read', 'orders:refund', 'orders:write', 'test'];

async function sign(claims: Record<string, unknown>, options: { secret?: string; alg?: string; exp?: number | null; iat?: number; nbf?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? 'HS256', typ: 'JWT' }).setIssuedAt(options.iat ?? now);
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now + 600);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

function unsigned(payload: Record<string, unknown>): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`;
}

/** Valid tokens for several principals (odd user ids included) and every way a token can be wrong. */
export async function tokenCases(): Promise<TokenCase[]> {
  const now = Math.floor(Date.now() / 1000);
  const valid = async (tenantId: string, userId: string, scopes: string[]): Promise<TokenCase> => ({
    label: `valid ${tenantId}/${userId} [${scopes.join(' ')}]`,
    token: await sign({ sub: userId, tenant_id: tenantId, scope: scopes.join(' ') }),
    principal: { tenantId, userId, scopes: new Set(scopes) },
  });
  const good = await valid('acme', 'fuzz-alice', ALL_SCOPES);
  const cases: TokenCase[] = [
    good,
    await valid('acme', 'fuzz-reader', ['orders:read']),
    await valid('acme', 'fuzz-nobody', []),
    await valid('globex', 'fuzz-carol', ALL_SCOPES),
    await valid('acme', '__proto__', ALL_SCOPES),
    await valid('acme', 'constructor', ['orders:read', 'test']),
    await valid('acme', 'a/b%2F../ü 😀', ALL_SCOPES),
    { label: 'none', token: undefined },
    { label: 'empty', token: '' },
    { label: 'expired', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { iat: now - 120, exp: now - 60 }) },
    { label: 'not yet valid', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { nbf: now + 3600 }) },
    { label: 'wrong secret', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { secret: 'another-secret-another-secret-0123456' }) },
    { label: 'HS512', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { alg: 'HS512' }) },
    { label: 'alg none', token: unsigned({ sub: 'fuzz-alice', tenant_id: 'acme', scope: ALL_SCOPES.join(' '), exp: now + 600 }) },
    { label: 'years ahead', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { exp: now + 5 * 365 * 86_400 }) },
    { label: 'lifetime over the maximum', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { iat: now - 48 * 3600, exp: now + 600 }) },
    { label: 'no exp', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme', scope: 'test' }, { exp: null }) },
    { label: 'no sub', token: await sign({ tenant_id: 'acme', scope: 'test' }) },
    { label: 'no tenant', token: await sign({ sub: 'fuzz-alice', scope: 'test' }) },
    { label: 'bad tenant', token: await sign({ sub: 'fuzz-alice', tenant_id: 'acme/../globex', scope: 'test' }) },
    { label: 'tenant as object', token: await sign({ sub: 'fuzz-alice', tenant_id: { __proto__: 'acme' }, scope: 'test' }) },
    { label: 'signature flipped', token: flipLast(good.token!) },
    { label: 'truncated', token: good.token!.slice(0, -10) },
    { label: 'garbage', token: 'not.a.token' },
  ];
  return cases;
}

function flipLast(token: string): string {
  const last = token.at(-2) === 'A' ? 'B' : 'A';
  return `${token.slice(0, -2)}${last}${token.at(-1)}`;
}

// ---------------------------------------------------------------------------
// The gateway

/** What `calls.start` was asked to start. */
interface StartRecord {
  workflowId: string;
  tenantId: string;
  userId: string;
  tool: string;
}

export interface GatewayFuzz {
  h: Harness;
  tokens: TokenCase[];
  starts: StartRecord[];
  registry: readonly string[];
  maxArgumentBytes: number;
  /** Puts `calls.start` back. */
  restore(): void;
}

/** Wraps the harness's `calls.start` to see every start the gateway attempts. */
export async function prepareGatewayFuzz(h: Harness, maxArgumentBytes: number): Promise<GatewayFuzz> {
  const calls = h.server.gateway.calls;
  const original = calls.start;
  const starts: StartRecord[] = [];
  calls.start = function (this: typeof calls, ...args: Parameters<typeof original>) {
    const [input, workflowId] = args;
    starts.push({ workflowId, tenantId: input.tenantId, userId: input.userId, tool: input.tool });
    return original.apply(this, args);
  } as typeof original;
  return {
    h,
    tokens: await tokenCases(),
    starts,
    registry: h.server.gateway.registry.names(),
    maxArgumentBytes,
    restore: () => {
      calls.start = original;
    },
  };
}

export interface CallCase {
  tool: unknown;
  args: unknown;
  token: number;
  key: string | undefined;
  session: string | undefined;
}

export function callCases(fuzz: GatewayFuzz): fc.Arbitrary<CallCase> {
  const valid = Object.entries(VALID_ARGUMENTS).filter(([tool]) => fuzz.registry.includes(tool));
  const toolAndArgs = fc.oneof(
    { weight: 3, arbitrary: fc.record({ tool: toolNames(fuzz.registry), args: nastyArguments }) },
    // A tool with arguments it accepts, as an object or as the JSON text a model sends.
    { weight: 1, arbitrary: fc.oneof(...valid.map(([tool, args]) => fc.record({ tool: fc.constant<unknown>(tool), args: fc.oneof(args, args.map((a) => JSON.stringify(a))) }))) },
  );
  return fc
    .record({
      call: toolAndArgs,
      // Valid tokens come first in the list: weight them so that some calls pass.
      token: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 6 }) }, { weight: 2, arbitrary: fc.integer({ min: 0, max: fuzz.tokens.length - 1 }) }),
      key: idempotencyKeys,
      session: sessionIds,
    })
    .map(({ call, ...rest }) => ({ ...call, ...rest }));
}

/**
 * Whether a call may start, from the documented rules alone: a valid token
 * whose scopes cover the tool, a registry tool, arguments within the size
 * limit that pass the tool's strict schema, a valid key and conversation id.
 */
function mayStart(fuzz: GatewayFuzz, c: CallCase, principal: TokenCase['principal']): boolean {
  if (!principal) return false;
  if (typeof c.tool !== 'string' || !fuzz.registry.includes(c.tool)) return false;
  const spec = fuzz.h.server.gateway.registry.get(c.tool)!;
  if (!spec.scopes.every((scope) => principal.scopes.has(scope))) return false;
  if (c.key !== undefined && !VALID_KEY.test(c.key)) return false;
  if (c.session !== undefined && !VALID_SESSION.test(c.session)) return false;
  try {
    const text = typeof c.args === 'string' ? c.args : JSON.stringify(c.args) ?? '';
    if (Buffer.byteLength(text, 'utf8') > fuzz.maxArgumentBytes) return false;
    const value = typeof c.args === 'string' ? JSON.parse(c.args === '' ? '{}' : c.args) : c.args ?? {};
    return spec.input.safeParse(value).success;
  } catch {
    return false;
  }
}

/** Checks what one start carried: the identity from the token, never from the arguments. */
function checkStarts(fuzz: GatewayFuzz, started: StartRecord[], c: CallCase, principal: TokenCase['principal'], allowed: boolean): void {
  must(started.length === 0 || allowed, `a call started that must not: ${started.map((s) => s.workflowId).join(', ')}`);
  for (const start of started) {
    must(start.tenantId === principal!.tenantId && start.userId === principal!.userId, `a call started as ${start.tenantId}/${start.userId}, not as its token's ${principal!.tenantId}/${principal!.userId}`);
    must(start.tool === c.tool, `a call of ${String(c.tool)} started ${start.tool}`);
    must(start.workflowId.startsWith(`${principal!.tenantId}/${encodeURIComponent(principal!.userId)}/`), `workflow id ${start.workflowId} is not scoped to its caller`);
  }
}

/** No crash, nothing started unless allowed, and an answer that matches its envelope schema. */
export async function checkSubmit(fuzz: GatewayFuzz, c: CallCase): Promise<void> {
  const tokenCase = fuzz.tokens[c.token]!;
  const before = fuzz.starts.length;
  const outcome = await fuzz.h.server.gateway.submit({
    tool: c.tool,
    arguments: c.args,
    caller: { token: tokenCase.token },
    ...(c.session !== undefined ? { sessionId: c.session } : {}),
    key: c.key !== undefined ? { kind: 'explicit', key: c.key } : { kind: 'none' },
  });
  const allowed = mayStart(fuzz, c, tokenCase.principal);
  checkStarts(fuzz, fuzz.starts.slice(before), c, tokenCase.principal, allowed);
  switch (outcome.kind) {
    case 'completed':
      schemaHolds(ResultEnvelopeSchema, outcome.envelope, 'a completed call');
      must(allowed, `a call that must not run completed: ${preview(outcome.envelope)}`);
      break;
    case 'accepted':
      schemaHolds(AcceptedEnvelopeSchema, outcome.ack, 'an ack');
      must(allowed, `a call that must not run was accepted: ${preview(outcome.ack)}`);
      // Nobody waits on it here; its result must not become an unhandled rejection.
      void outcome.completion.catch(() => undefined);
      break;
    default:
      schemaHolds(ErrorEnvelopeSchema, outcome.envelope, `a ${outcome.kind} answer`);
      must(outcome.envelope.error_code !== 'INTERNAL', `the gateway failed inside: ${preview(outcome.envelope)}`);
      if (!tokenCase.principal) must(outcome.envelope.error_code === 'UNAUTHENTICATED', `a caller without a valid token got ${outcome.envelope.error_code}, not UNAUTHENTICATED`);
      if (!tokenCase.principal) must(outcome.envelope.details === undefined, `an unauthenticated caller was shown details: ${preview(outcome.envelope.details)}`);
  }
}

// ---------------------------------------------------------------------------
// The HTTP API

export interface HttpCase extends CallCase {
  /** How the token is presented. */
  auth: 'bearer' | 'lowercase' | 'garbage' | 'none';
  garbageAuth: string;
  body: 'json' | 'json-extra' | 'text-plain' | 'not-object' | 'raw' | 'deep';
  depth: number;
  raw: Uint8Array;
  /** POST a call, or address an existing one by a made-up id. */
  route: 'submit' | 'view' | 'events' | 'approval' | 'cancel';
  callId: string;
}

/** Node's HTTP client sends only these header characters; anything else is the client's error, not the server's. */
const headerSafe = (text: string) => text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
/** The server sees a header value without its surrounding spaces and tabs. */
const asReceived = (text: string) => text.replace(/^[ \t]+|[ \t]+$/g, '');

export function httpCases(fuzz: GatewayFuzz): fc.Arbitrary<HttpCase> {
  return fc
    .record({
      call: callCases(fuzz),
      auth: fc.constantFrom('bearer', 'bearer', 'bearer', 'lowercase', 'garbage', 'none'),
      garbageAuth: nastyString.map(headerSafe),
      body: fc.constantFrom('json', 'json', 'json', 'json-extra', 'text-plain', 'not-object', 'raw', 'deep'),
      depth: fc.integer({ min: 1_000, max: 30_000 }),
      raw: fc.uint8Array({ maxLength: 300 }),
      route: fc.constantFrom('submit', 'submit', 'submit', 'submit', 'view', 'events', 'approval', 'cancel'),
      // Never an id the fuzz itself used as a key: a made-up call id names no call.
      callId: fc.oneof(nastyString, fc.uuid()).map((id) => `nx-${id}`),
    })
    .map(({ call, ...rest }) => ({
      ...call,
      key: call.key === undefined ? undefined : headerSafe(call.key),
      session: call.session === undefined ? undefined : headerSafe(call.session),
      ...(rest as Omit<HttpCase, keyof CallCase>),
    }));
}

interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function send(url: string, method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const req = httpRequest(
      { host: target.hostname, port: target.port, method, path, headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) }, agent, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new PropertyBroken(`${method} ${path} got no answer within 15 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A path segment as a client would send it: percent-encoded, lone surrogates replaced. */
function segment(text: string): string {
  return encodeURIComponent(Buffer.from(text, 'utf8').toString('utf8'));
}

/** JSON text, or undefined where JSON.stringify gives up (nesting deeper than its stack). */
function jsonText(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/** Through the real HTTP API: no crash, no 500, nothing started unless allowed, every answer an envelope. */
export async function checkHttp(fuzz: GatewayFuzz, c: HttpCase): Promise<void> {
  const tokenCase = fuzz.tokens[c.token]!;
  const headers: Record<string, string> = {};
  if (c.auth === 'bearer' && tokenCase.token !== undefined) headers.authorization = `Bearer ${tokenCase.token}`;
  if (c.auth === 'lowercase' && tokenCase.token !== undefined) headers.authorization = `bearer  ${tokenCase.token}`;
  if (c.auth === 'garbage') headers.authorization = c.garbageAuth;
  const principal = (c.auth === 'bearer' || c.auth === 'lowercase') && tokenCase.token ? tokenCase.principal : undefined;

  const before = fuzz.starts.length;
  let answer: RawAnswer;
  let allowed = false;
  if (c.route === 'submit') {
    if (c.key !== undefined) headers['idempotency-key'] = c.key;
    if (c.session !== undefined) headers['holdline-session'] = c.session;
    let body: Buffer;
    headers['content-type'] = c.body === 'text-plain' ? 'text/plain' : 'application/json';
    const call = jsonText({ tool: c.tool, arguments: c.args });
    const mode = call === undefined && c.body !== 'deep' ? 'raw' : c.body;
    switch (mode) {
      case 'json':
      case 'text-plain':
        body = Buffer.from(call ?? '');
        break;
      case 'json-extra':
        body = Buffer.from(`{"__proto__":{"tool":"lookup_order","admin":true},"constructor":{"prototype":{"x":1}},"tenant_id":"globex",${call!.slice(1)}`);
        break;
      case 'not-object':
        body = Buffer.from(jsonText([c.tool, c.args]) ?? '[]');
        break;
      case 'deep':
        // Deeper than JSON.stringify can go, within the body limit: whatever walks the parsed arguments must not overflow.
        body = Buffer.from(`{"tool":"lookup_order","arguments":{"order_id":"A-1001","nested":${deepJsonText(c.depth, c.depth % 2 === 0)}}}`);
        break;
      case 'raw':
        body = Buffer.from(c.raw);
    }
    const wellShaped = (mode === 'json' || mode === 'json-extra') && typeof c.tool === 'string' && body.length <= 64 * 1024;
    // What the server receives: the arguments after a JSON round trip, the headers without surrounding blanks.
    const received: CallCase = {
      ...c,
      args: call === undefined || c.args === undefined ? undefined : (JSON.parse(call) as { arguments?: unknown }).arguments,
      key: c.key === undefined ? undefined : asReceived(c.key),
      session: c.session === undefined ? undefined : asReceived(c.session),
    };
    allowed = wellShaped && mayStart(fuzz, received, principal);
    answer = await send(fuzz.h.url, 'POST', '/v1/tool-calls', headers, body);
    checkStarts(fuzz, fuzz.starts.slice(before), received, principal, allowed);
  } else {
    const path = `/v1/tool-calls/${segment(c.callId)}${c.route === 'view' ? '' : `/${c.route}`}`;
    const method = c.route === 'view' || c.route === 'events' ? 'GET' : 'POST';
    if (method === 'POST') headers['content-type'] = 'application/json';
    answer = await send(fuzz.h.url, method, path, headers, method === 'POST' ? Buffer.from(c.route === 'approval' ? '{"approved":true}' : '{}') : undefined);
    must(fuzz.starts.length === before, `${method} ${path} started a call`);
  }

  must(answer.status !== 500, `the server failed inside (500): ${answer.text.slice(0, 300)}`);
  must(answer.status >= 200 && answer.status < 600, `status ${answer.status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new PropertyBroken(`status ${answer.status} answered with a body that is not JSON: ${answer.text.slice(0, 200)}`);
  }
  if (answer.status === 202) schemaHolds(AcceptedEnvelopeSchema, body, 'a 202');
  else if (answer.status === 200) schemaHolds(ResultEnvelopeSchema, body, 'a 200');
  else schemaHolds(ErrorEnvelopeSchema, body, `a ${answer.status}`);
  if (answer.status === 200 || answer.status === 202) must(c.route !== 'submit' || allowed, `a call that must not run answered ${answer.status}`);
  if (!principal) {
    must(answer.status === 401, `a caller without a valid token got ${answer.status}, not 401`);
    must((body as { details?: unknown }).details === undefined, `an unauthenticated caller was shown details: ${preview((body as { details?: unknown }).details)}`);
    const message = String((body as { message?: unknown }).message);
    for (const name of fuzz.registry) must(!message.includes(name), `an unauthenticated caller was shown the tool list: ${message}`);
  }
}

/** The process still answers: /healthz within `withinMs`. */
export async function checkResponsive(url: string, withinMs = 1_000): Promise<number> {
  const started = performance.now();
  const answer = await send(url, 'GET', '/healthz', {}, undefined);
  const elapsed = performance.now() - started;
  must(answer.status === 200, `/healthz answered ${answer.status}`);
  must(elapsed < withinMs, `/healthz took ${Math.round(elapsed)} ms`);
  return elapsed;
}

export function closeAgent(): void {
  agent.destroy();
}

// ---------------------------------------------------------------------------
// The realtime frame parser

const KINDS = new Set(['event', 'unknown', 'invalid']);

function checkParsed(parsed: Parsed<unknown>, frame: string): void {
  must(parsed && KINDS.has(parsed.kind), `the parser returned ${preview(parsed)} for ${preview(frame)}`);
  if (parsed.kind === 'invalid') must(typeof parsed.reason === 'string' && parsed.reason.length > 0, 'an invalid frame without a reason');
  else must(typeof parsed.raw === 'object' && parsed.raw !== null, 'a parsed frame without its raw object');
  if (parsed.kind === 'unknown') must(typeof parsed.type === 'string', 'an unknown frame without its type');
}

/** parseClientEvent, parseModelEvent and functionCallOf never throw and always answer event / unknown / invalid. */
export function checkFrame(frame: string): void {
  let client: Parsed<unknown>;
  let model: ReturnType<typeof parseModelEvent>;
  try {
    client = parseClientEvent(frame);
    model = parseModelEvent(frame);
  } catch (error) {
    throw new PropertyBroken(`the parser threw ${(error as Error).message} on ${preview(frame)}`);
  }
  checkParsed(client, frame);
  checkParsed(model, frame);
  if (model.kind === 'event') {
    let call;
    try {
      call = functionCallOf(model.event);
    } catch (error) {
      throw new PropertyBroken(`functionCallOf threw ${(error as Error).message} on ${preview(frame)}`);
    }
    if (call) must(typeof call.callId === 'string' && typeof call.name === 'string' && typeof call.arguments === 'string', `functionCallOf returned ${preview(call)}`);
  }
}

export { frames };
