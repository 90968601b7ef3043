import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadToolsFile, parseToolsFile, scopesOfToolsFile, ToolsFileError } from '../../src/runtime/tools-file';

const YAML = `# the tools of a help desk
httpTools:
  - name: create_ticket
    description: Open a support ticket for the caller
    url: http://127.0.0.1:9/tickets
    input:
      type: object
      properties:
        subject: { type: string, maxLength: 200 }
      required: [subject]
    headers:
      Authorization: { env: HELPDESK_TOKEN, prefix: "Bearer " }
    scopes: [tickets:write]
    sideEffect: write
    budget: { ackAfterMs: 500, timeoutMs: 10000 }
mcpServers:
  - name: crm
    command: node
    args: [crm-server.js]
    tools:
      search_contacts: { as: crm_search }
tenants:
  acme: { tools: [create_ticket, crm_search] }
  "*": { tools: [crm_search] }
`;

function problemsOf(text: string, file: string): ToolsFileError {
  try {
    parseToolsFile(text, file);
  } catch (error) {
    if (error instanceof ToolsFileError) return error;
    throw error;
  }
  throw new Error('the file was accepted');
}

describe('the tools file', () => {
  it('reads HTTP tools, MCP servers and tenants from YAML, with defaults filled in', () => {
    const file = parseToolsFile(YAML, 'holdline.tools.yaml');
    expect(file.httpTools?.[0]).toMatchObject({ name: 'create_ticket', method: 'POST', sideEffect: 'write' });
    expect(file.mcpServers?.[0]).toMatchObject({ name: 'crm', tools: { search_contacts: { as: 'crm_search' } } });
    expect(file.tenants).toEqual({ acme: { tools: ['create_ticket', 'crm_search'] }, '*': { tools: ['crm_search'] } });
  });

  it('knows every scope its tools require, for a development token', () => {
    expect(scopesOfToolsFile(parseToolsFile(YAML, 'holdline.tools.yaml')).sort()).toEqual(['mcp:crm', 'tickets:write']);
  });

  it('reads the same file written as JSON', () => {
    const json = JSON.stringify({ tenants: { acme: { tools: ['lookup_order'] } } }, null, 2);
    expect(parseToolsFile(json, 'holdline.tools.json').tenants).toEqual({ acme: { tools: ['lookup_order'] } });
  });

  it('names the line and the field of each problem', () => {
    const broken = YAML.replace('url: http://127.0.0.1:9/tickets', 'url: not-a-url').replace('sideEffect: write', 'sideEffect: sometimes');
    const error = problemsOf(broken, 'holdline.tools.yaml');
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 5, field: 'httpTools[0].url' }),
        expect.objectContaining({ line: 14, field: 'httpTools[0].sideEffect' }),
      ]),
    );
    expect(error.message).toContain('holdline.tools.yaml:5: httpTools[0].url:');
  });

  it('points a missing field at the entry that lacks it, and rejects unknown keys', () => {
    const error = problemsOf(YAML.replace('    description: Open a support ticket for the caller\n', '').replace('tenants:', 'tennants:'), 'f.yaml');
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 3, field: 'httpTools[0].description' }),
        expect.objectContaining({ message: expect.stringContaining('tennants') }),
      ]),
    );
  });

  it('reports a syntax error with its line, for YAML and for JSON', () => {
    expect(problemsOf('httpTools:\n  - name: [unclosed\n', 'f.yaml').problems[0]).toMatchObject({ line: expect.any(Number), message: expect.stringMatching(/^YAML syntax/) });
    expect(problemsOf('{\n  "tenants": {,\n}', 'f.json').problems[0]).toMatchObject({ line: 2, message: expect.stringMatching(/^JSON syntax/) });
  });

  it('says so when the file cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tools-file-'));
    try {
      expect(() => loadToolsFile(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml is not a valid tools file:\n.*cannot be read \(ENOENT\)/);
      writeFileSync(join(dir, 'ok.yaml'), 'tenants: { acme: {} }\n');
      expect(loadToolsFile(join(dir, 'ok.yaml')).tenants).toEqual({ acme: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
