import pino from 'pino';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { MissingSecretError } from '../../src/contracts/tool-config';
import { createMcpToolSource, mcpServerConfig } from '../../src/activities/mcp';
import { reconnectDelay } from '../../src/activities/mcp/backoff';
import { catalogOf, toolPolicyOf } from '../../src/activities/mcp/catalog';

const issuesOf = (value: unknown) => {
  const parsed = mcpServerConfig.safeParse(value);
  return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

describe('mcpServerConfig', () => {
  it('accepts a stdio server and a Streamable HTTP server with secrets from the environment', () => {
    expect(issuesOf({ name: 'crm', command: 'crm-mcp', args: ['--stdio'], env: { TOKEN: { env: 'CRM_TOKEN' } }, tools: { search: {} } })).toEqual([]);
    expect(issuesOf({ name: 'docs', url: 'https://mcp.example.com/mcp', headers: { authorization: { env: 'DOCS_TOKEN', prefix: 'Bearer ' } }, tools: { search: { as: 'docs_search' } } })).toEqual([]);
  });

  it('wants exactly one of command and url, and the fields of that transport only', () => {
    expect(issuesOf({ name: 'crm', tools: { search: {} } })).toEqual([expect.stringContaining('give either "command"')]);
    expect(issuesOf({ name: 'crm', command: 'x', url: 'http://localhost/mcp', tools: { search: {} } })).toEqual([expect.stringContaining('give either "command"')]);
    expect(issuesOf({ name: 'crm', url: 'http://localhost/mcp', args: ['a'], tools: { search: {} } })).toEqual(['args: "args" is for stdio servers (with "command"), not for a "url"']);
    expect(issuesOf({ name: 'crm', command: 'x', headers: { a: 'b' }, tools: { search: {} } })).toEqual([expect.stringMatching(/^headers: /)]);
    expect(issuesOf({ name: 'crm', url: 'ftp://host/mcp', tools: { search: {} } })).toHaveLength(1);
  });

  it('rejects unknown keys, an empty allow-list, bad names and clashing renames', () => {
    expect(issuesOf({ name: 'crm', command: 'x', tools: { search: {} }, extra: true })).toHaveLength(1);
    expect(issuesOf({ name: 'crm', command: 'x', tools: { search: { sideEffects: 'read' } } })).toHaveLength(1);
    expect(issuesOf({ name: 'crm', command: 'x', tools: {} })).toEqual(['tools: list at least one tool']);
    expect(issuesOf({ name: 'CRM server', command: 'x', tools: { search: {} } })).toEqual([expect.stringMatching(/^name: /)]);
    expect(issuesOf({ name: 'crm', command: 'x', tools: { 'get-time': {} } })).toEqual([expect.stringContaining('give it one with "as"')]);
    expect(issuesOf({ name: 'crm', command: 'x', tools: { a: { as: 'same' }, b: { as: 'same' } } })).toEqual([expect.stringContaining('would both be served as "same"')]);
  });

  it('takes any policy field, each optional, a budget in part', () => {
    const parsed = mcpServerConfig.parse({
      name: 'crm',
      command: 'x',
      tools: { refund: { scopes: ['crm:write'], sideEffect: 'write', budget: { timeoutMs: 5_000 }, retry: { maxAttempts: 1 }, needsApproval: false, sensitive: ['card'], confidenceField: 'score' } },
    });
    expect(parsed.tools.refund?.budget).toEqual({ timeoutMs: 5_000 });
  });

  it('stops the source at creation when a secret names an unset variable', () => {
    const logger = pino({ level: 'silent' });
    expect(() => createMcpToolSource({ name: 'crm', url: 'http://127.0.0.1:1/mcp', headers: { authorization: { env: 'NOT_SET_ANYWHERE' } }, tools: { a: {} } }, { logger, env: {} })).toThrow(
      MissingSecretError,
    );
  });
});

describe('toolPolicyOf', () => {
  it('defaults from annotations: read-only → read and cancellable; destructive (the default for a write tool) → approval', () => {
    expect(toolPolicyOf('crm', {}, { readOnlyHint: true })).toMatchObject({ sideEffect: 'read', cancellable: true, needsApproval: false, scopes: ['mcp:crm'] });
    expect(toolPolicyOf('crm', {}, { destructiveHint: true })).toMatchObject({ sideEffect: 'write', cancellable: false, needsApproval: true });
    // No hints: a write tool the MCP specification presumes destructive, so it waits for approval.
    expect(toolPolicyOf('crm', {}, {})).toMatchObject({ sideEffect: 'write', needsApproval: true });
    expect(toolPolicyOf('crm', {}, { destructiveHint: false })).toMatchObject({ sideEffect: 'write', needsApproval: false });
    // A read-only tool's destructiveHint means nothing (MCP spec).
    expect(toolPolicyOf('crm', {}, { readOnlyHint: true, destructiveHint: true })).toMatchObject({ needsApproval: false });
  });

  it('lets the configuration override every default', () => {
    expect(toolPolicyOf('crm', { needsApproval: false, sideEffect: 'read', cancellable: false, scopes: ['x'] }, { destructiveHint: true })).toMatchObject({
      sideEffect: 'read',
      needsApproval: false,
      cancellable: false,
      scopes: ['x'],
    });
  });

  it('fills a budget in part, keeping the defaults within the configured timeout', () => {
    expect(toolPolicyOf('crm', {}, {}).budget).toEqual({ ackAfterMs: 1_000, timeoutMs: 30_000, heartbeatTimeoutMs: 5_000 });
    expect(toolPolicyOf('crm', { budget: { timeoutMs: 600 } }, {}).budget).toEqual({ ackAfterMs: 600, timeoutMs: 600, heartbeatTimeoutMs: 600 });
    expect(toolPolicyOf('crm', { budget: { timeoutMs: 9_000, attemptTimeoutMs: 3_000 } }, {}).budget).toEqual({
      ackAfterMs: 1_000,
      timeoutMs: 9_000,
      attemptTimeoutMs: 3_000,
      heartbeatTimeoutMs: 3_000,
    });
  });

  it('passes runAs and priority through, and gives a local activity no heartbeat timeout', () => {
    expect(toolPolicyOf('crm', { runAs: 'local-activity', priority: 'critical' }, { readOnlyHint: true })).toMatchObject({
      runAs: 'local-activity',
      priority: 'critical',
      budget: { ackAfterMs: 1_000, timeoutMs: 30_000 },
    });
    expect(toolPolicyOf('crm', { runAs: 'local-activity' }, {}).budget).not.toHaveProperty('heartbeatTimeoutMs');
    expect(toolPolicyOf('crm', { runAs: 'activity' }, {}).budget).toHaveProperty('heartbeatTimeoutMs', 5_000);
  });
});

describe('catalogOf', () => {
  const listed: Tool[] = [
    { name: 'search', description: 'Searches.', inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }, annotations: { readOnlyHint: true, idempotentHint: true } },
    { name: 'whoami', inputSchema: { type: 'object', properties: { tenant_id: { type: 'string' } } } },
    { name: 'hidden', inputSchema: { type: 'object' } },
  ];
  const server = mcpServerConfig.parse({ name: 'crm', command: 'x', tools: { search: { as: 'crm_search' }, whoami: {}, gone: {} } });

  it('serves the allow-listed tools with a strict input, under their new names, run by the server activity', () => {
    const { tools } = catalogOf(server, listed, 'mcp:crm');
    expect([...tools.keys()]).toEqual(['crm_search']);
    const search = tools.get('crm_search')!;
    expect(search).toMatchObject({ upstream: 'search', idempotent: true, spec: { activity: 'mcp:crm', description: 'Searches.', sideEffect: 'read' } });
    expect(search.spec.input.safeParse({ q: 'x', extra: 1 }).success).toBe(false);
    expect(search.spec.input.safeParse({ q: 'x' }).success).toBe(true);
  });

  it('runs a tool configured as a local activity as one, not cancellable, and refuses one that heartbeats or is cancellable', () => {
    const local = mcpServerConfig.parse({ name: 'crm', command: 'x', tools: { search: { as: 'crm_search', runAs: 'local-activity' } } });
    expect(catalogOf(local, listed, 'mcp:crm').tools.get('crm_search')?.spec).toMatchObject({ runAs: 'local-activity', cancellable: false });
    expect(catalogOf(local, listed, 'mcp:crm').tools.get('crm_search')?.spec.budget).not.toHaveProperty('heartbeatTimeoutMs');
    const beating = mcpServerConfig.parse({ name: 'crm', command: 'x', tools: { search: { runAs: 'local-activity', budget: { heartbeatTimeoutMs: 1_000 } } } });
    expect(catalogOf(beating, listed, 'mcp:crm').problems.get('search')).toMatch(/local activities cannot heartbeat/);
    const cancellable = mcpServerConfig.parse({ name: 'crm', command: 'x', tools: { search: { runAs: 'local-activity', cancellable: true } } });
    expect(catalogOf(cancellable, listed, 'mcp:crm').problems.get('search')).toMatch(/drop cancellable or run as an activity/);
  });

  it('names why an allow-listed tool is not served', () => {
    const { problems } = catalogOf(server, listed, 'mcp:crm');
    expect(problems.get('gone')).toBe('MCP server crm does not offer a tool named "gone"');
    expect(problems.get('whoami')).toMatch(/cannot be used: .*tenant_id/);
    expect(problems.has('hidden')).toBe(false);
  });
});

describe('reconnectDelay', () => {
  it('doubles from the first delay up to the cap, jitter only shortening it', () => {
    const backoff = { initialMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 60].map((n) => reconnectDelay(n, backoff, () => 0))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    for (let n = 1; n < 50; n++) {
      const delay = reconnectDelay(n, backoff);
      expect(delay).toBeLessThanOrEqual(1_000);
      expect(delay).toBeGreaterThanOrEqual(Math.floor(0.8 * reconnectDelay(n, backoff, () => 0)));
    }
  });
});
