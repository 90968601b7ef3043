import { readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { createHttpToolSource, httpToolConfig } from '../activities/http';
import { connectMcpToolSource, mcpServerConfig, toolPolicyOf } from '../activities/mcp';
import type { ToolSource } from '../contracts/tool-source';
import { TenantPolicy, tenantsConfig } from '../gateway';

/**
 * The tools file: tools served by HTTP endpoints, MCP servers whose tools
 * Holdline serves, and which tenant may use which tool. JSON or YAML, one
 * schema; `holdline start --tools-file holdline.tools.yaml`, or
 * `HOLDLINE_TOOLS_FILE`.
 */
export const toolsFileSchema = z.strictObject({
  httpTools: z.array(httpToolConfig).optional(),
  mcpServers: z.array(mcpServerConfig).optional(),
  tenants: tenantsConfig.optional(),
});
export type ToolsFile = z.infer<typeof toolsFileSchema>;

/** One thing wrong with a tools file, where it is. */
export interface ToolsFileProblem {
  /** 1-based; absent when the file as a whole is wrong. */
  line?: number;
  /** `httpTools[0].url`; empty for the file as a whole. */
  field: string;
  message: string;
}

/** A tools file that cannot be used; the message lists every problem as `file:line: field: message`. */
export class ToolsFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly ToolsFileProblem[],
  ) {
    super(`${file} is not a valid tools file:\n${problems.map((problem) => `  ${describe(file, problem)}`).join('\n')}`);
    this.name = 'ToolsFileError';
  }
}

function describe(file: string, { line, field, message }: ToolsFileProblem): string {
  return `${file}${line ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${message}`;
}

export function loadToolsFile(path: string): ToolsFile {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ToolsFileError(file, [{ field: '', message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` }]);
  }
  return parseToolsFile(text, file);
}

/** Parses and validates a tools file's text; JSON is read as the YAML subset it is, so both get line numbers. */
export function parseToolsFile(text: string, file: string): ToolsFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const kind = extname(file) === '.json' ? 'JSON' : 'YAML';
    throw new ToolsFileError(
      file,
      doc.errors.map((error) => ({ line: lines.linePos(error.pos[0]).line, field: '', message: `${kind} syntax: ${error.message.split('\n')[0]}` })),
    );
  }
  const parsed = toolsFileSchema.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue): ToolsFileProblem => {
      const path = issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key));
      const line = lineOf(doc, lines, path);
      return { ...(line ? { line } : {}), field: fieldOf(path), message: readable(issue.message) };
    });
    throw new ToolsFileError(file, problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  }
  return parsed.data;
}

/** The line of the value at `path`, or of the nearest enclosing value that exists (a missing key's parent). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** zod's "expected string, received undefined" is, in a file, a field that is missing. */
function readable(message: string): string {
  const missing = /^Invalid input: expected (\w+), received undefined$/.exec(message);
  return missing ? `missing (expected ${missing[1]})` : message;
}

function fieldOf(path: (string | number)[]): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('');
}

/** What a tools file gives a running Holdline. */
export interface OpenedToolsFile {
  sources: ToolSource[];
  tenantPolicy?: TenantPolicy;
  close(): Promise<void>;
}

/**
 * Builds the tool sources a tools file declares. MCP servers are connected
 * and listed once before this resolves; one that is down leaves its tools
 * unavailable (and keeps reconnecting) rather than stopping the start.
 */
export async function openToolsFile(file: ToolsFile, options: { env: NodeJS.ProcessEnv; logger: Logger }): Promise<OpenedToolsFile> {
  const sources: ToolSource[] = [];
  const close = async () => {
    await Promise.all(sources.map((source) => source.close()));
  };
  try {
    if (file.httpTools?.length) sources.push(createHttpToolSource(file.httpTools, { env: options.env }));
    const servers = await Promise.all(
      (file.mcpServers ?? []).map((server) => connectMcpToolSource(server, { env: options.env, logger: options.logger })),
    );
    sources.push(...servers);
  } catch (error) {
    await close();
    throw error;
  }
  return { sources, ...(file.tenants ? { tenantPolicy: new TenantPolicy(file.tenants) } : {}), close };
}

/** Every scope the file's tools require, as configured (an MCP tool without scopes requires `mcp:<server>`). */
export function scopesOfToolsFile(file: ToolsFile): string[] {
  const http = (file.httpTools ?? []).flatMap((tool) => tool.scopes);
  const mcp = (file.mcpServers ?? []).flatMap((server) => Object.values(server.tools).flatMap((tool) => toolPolicyOf(server.name, tool, {}).scopes));
  return [...new Set([...http, ...mcp])];
}
