import { ApplicationFailure } from '@temporalio/activity';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { resolveSecrets } from '../../contracts/tool-config';
import type { ToolActivity, ToolCallMeta } from '../../contracts/tool-call';
import type { ToolSource } from '../../contracts/tool-source';
import type { ToolSpec } from '../../contracts/tool-spec';
import { implementTool } from '../tool-adapter';
import { DEFAULT_RECONNECT_BACKOFF, type ReconnectBackoff } from './backoff';
import { MCP_UNAVAILABLE, mcpToolHandler } from './call';
import { catalogOf, type McpCatalog, type McpToolInfo } from './catalog';
import { mcpServerConfig, type McpServerConfig, type McpTransportConfig } from './config';
import { McpConnection } from './connection';

/** A tool the server stopped offering after the call was placed. */
export const MCP_TOOL_GONE = 'MCP_TOOL_GONE';

export interface McpToolSourceOptions {
  /** Where `{ env: … }` secrets of the entry are read. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Reconnect delays. Default: 250 ms doubling to 10 s, jittered. */
  reconnect?: Partial<ReconnectBackoff>;
  /** Bounds connecting, each listing and each health check. Default 10 s. */
  connectTimeoutMs?: number;
}

/** The tools of one MCP server, served as Holdline tools. */
export interface McpToolSource extends ToolSource {
  /** Settles when the first attempt to connect and list has ended, whether the server was up or not. */
  readonly ready: Promise<void>;
  /** The allow-listed tools served now, with what the server said of them (annotations, `idempotentHint`). */
  tools(): readonly McpToolInfo[];
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The tool source of one MCP server entry (`mcp:<name>`). It connects at once
 * and lists the server's tools; only the entry's allow-listed tools are
 * served, under their configured names. While the server has never been
 * listed, those tools are unavailable with the reason (callers get
 * UNKNOWN_TOOL naming it) and the source reconnects with backoff; once
 * listed, the tools stay served through a later disconnect (an attempt then
 * waits briefly for the reconnect, else fails retryably), and each new
 * listing replaces them.
 *
 * One activity, `mcp:<name>`, runs every tool of the server: it reads the
 * tool's name from the call's meta. Throws at once on a bad entry or a secret
 * whose environment variable is unset.
 */
export function createMcpToolSource(config: McpServerConfig, options: McpToolSourceOptions): McpToolSource {
  const server = mcpServerConfig.parse(config);
  const name = `mcp:${server.name}`;
  const log = options.logger.child({ component: 'mcp', mcp_server: server.name });
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  let catalog: McpCatalog = { tools: new Map(), problems: new Map() };
  let implementations = new Map<string, ToolActivity>();
  let listedOnce = false;
  let specs: readonly ToolSpec[] = [];
  let unavailable: ReadonlyMap<string, string> = new Map();

  const refresh = () => {
    const reason = connection.reason();
    const next = new Map(catalog.problems);
    if (!listedOnce && reason !== undefined) for (const [upstream, tool] of Object.entries(server.tools)) next.set(tool.as ?? upstream, reason);
    unavailable = next;
  };

  const listed = (tools: readonly Tool[]) => {
    catalog = catalogOf(server, tools, name);
    listedOnce = true;
    implementations = new Map([...catalog.tools.values()].map((info) => [info.name, implementTool(info.spec, mcpToolHandler(connection, info, log)).activity]));
    specs = [...catalog.tools.values()].map((info) => info.spec);
    log.info(
      {
        listed: tools.length,
        serving: [...catalog.tools.values()].map((info) => ({
          tool: info.name,
          upstream: info.upstream,
          side_effect: info.spec.sideEffect,
          needs_approval: info.spec.needsApproval,
          cancellable: info.spec.cancellable,
          ...(info.idempotent !== undefined ? { idempotent: info.idempotent } : {}),
        })),
        ...(catalog.problems.size > 0 ? { not_served: Object.fromEntries(catalog.problems) } : {}),
      },
      `MCP server ${server.name} listed ${tools.length} tools; serving ${catalog.tools.size} of the ${Object.keys(server.tools).length} allowed`,
    );
    for (const [tool, problem] of catalog.problems) log.warn({ tool }, `tool ${tool} is not served: ${problem}`);
  };

  const connection = new McpConnection({
    server: server.name,
    transport: transportOf(server, options.env ?? process.env),
    logger: options.logger,
    backoff: { ...DEFAULT_RECONNECT_BACKOFF, ...options.reconnect },
    connectTimeoutMs,
    onListed: listed,
    onChange: refresh,
  });
  refresh();
  const ready = connection.start();

  const activity: ToolActivity = async (args: Record<string, unknown>, meta: ToolCallMeta) => {
    // A worker whose own connection is still being made waits for its first listing.
    if (!listedOnce) await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, connectTimeoutMs).unref())]);
    const run = meta.tool === undefined ? undefined : implementations.get(meta.tool);
    if (run) return run(args, meta);
    if (!listedOnce) {
      throw ApplicationFailure.create({ type: MCP_UNAVAILABLE, message: connection.reason() ?? `MCP server ${server.name} is unreachable`, nonRetryable: false });
    }
    throw ApplicationFailure.create({
      type: MCP_TOOL_GONE,
      message: `MCP server ${server.name} no longer offers the tool ${meta.tool ?? '(unnamed)'}`,
      nonRetryable: true,
    });
  };
  Object.defineProperty(activity, 'name', { value: name });

  return {
    name,
    ready,
    specs: () => specs,
    unavailable: () => unavailable,
    tools: () => [...catalog.tools.values()],
    activities: Object.freeze({ [name]: activity }),
    close: () => connection.close(),
  };
}

/** Creates the source and waits for its first attempt to connect and list (see {@link McpToolSource.ready}). */
export async function connectMcpToolSource(config: McpServerConfig, options: McpToolSourceOptions): Promise<McpToolSource> {
  const source = createMcpToolSource(config, options);
  await source.ready;
  return source;
}

function transportOf(server: McpServerConfig, env: NodeJS.ProcessEnv): McpTransportConfig {
  const where = `mcp server ${server.name}`;
  if (server.url !== undefined) return { kind: 'http', url: server.url, headers: resolveSecrets(server.headers, env, `${where} headers`) };
  return {
    kind: 'stdio',
    command: server.command!,
    args: server.args ?? [],
    env: resolveSecrets(server.env, env, `${where} env`),
    ...(server.cwd !== undefined ? { cwd: server.cwd } : {}),
  };
}
