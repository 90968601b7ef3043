import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ToolListChangedNotificationSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { reconnectDelay, type ReconnectBackoff } from './backoff';
import type { McpTransportConfig } from './config';
import { describeError, oneLine } from './text';

export interface McpConnectionOptions {
  server: string;
  transport: McpTransportConfig;
  logger: Logger;
  backoff: ReconnectBackoff;
  /** Bounds connecting, listing and each health check. */
  connectTimeoutMs: number;
  /** Called with the server's whole tool list after every successful listing. */
  onListed(tools: readonly Tool[]): void;
  /** Called whenever the connection goes up or down. */
  onChange(): void;
}

type State =
  | { kind: 'connecting' }
  | { kind: 'up'; client: Client }
  | { kind: 'down'; reason: string }
  | { kind: 'closed' };

/** Thrown by {@link McpConnection.whenUp} when the server cannot be reached in time. */
export class McpUnreachableError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'McpUnreachableError';
  }
}

const MAX_LIST_PAGES = 100;
const STDERR_LINES_KEPT = 5;

/**
 * One MCP server's connection: connects and lists its tools, lists again when
 * the server says its tools changed, and reconnects with capped, jittered
 * backoff whenever the connection is lost (a stdio server that exits, an HTTP
 * server that stops answering). A server that stays down is logged once when
 * it goes down and once when it returns, not at every attempt.
 */
export class McpConnection {
  private state: State = { kind: 'connecting' };
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private readonly waiters = new Set<() => void>();
  private readonly stderrTail: string[] = [];
  private readonly log: Logger;

  constructor(private readonly options: McpConnectionOptions) {
    this.log = options.logger.child({ component: 'mcp', mcp_server: options.server });
  }

  /** Makes the first attempt; resolves when it has succeeded or failed (retries then go on in the background). */
  start(): Promise<void> {
    return this.attempt();
  }

  /** Why the server cannot be used now; undefined while it is up. */
  reason(): string | undefined {
    switch (this.state.kind) {
      case 'up':
        return undefined;
      case 'connecting':
        return `MCP server ${this.options.server} is still connecting`;
      case 'down':
        return `MCP server ${this.options.server} is unreachable: ${this.state.reason}; retrying`;
      case 'closed':
        return `MCP server ${this.options.server} is closed`;
    }
  }

  /**
   * The connected client, waiting up to `waitMs` for a connection under way
   * or the first reconnect after a loss. Once a reconnect has failed too, the
   * server is taken to be down and callers are told at once.
   */
  whenUp(signal: AbortSignal, waitMs: number): Promise<Client> {
    const now = this.upClient();
    if (now) return Promise.resolve(now);
    if (this.givenUp()) return Promise.reject(new McpUnreachableError(this.reason()!));
    return new Promise((resolve, reject) => {
      const settle = (error?: unknown) => {
        clearTimeout(timeout);
        signal.removeEventListener('abort', aborted);
        this.waiters.delete(check);
        if (error !== undefined) reject(error);
      };
      const check = () => {
        const client = this.upClient();
        if (client) {
          settle();
          resolve(client);
        } else if (this.state.kind === 'closed' || this.givenUp()) {
          settle(new McpUnreachableError(this.reason()!));
        }
      };
      const aborted = () => settle(signal.reason);
      const timeout = setTimeout(() => settle(new McpUnreachableError(this.reason() ?? `MCP server ${this.options.server} is unreachable`)), waitMs);
      if (signal.aborted) return settle(signal.reason);
      signal.addEventListener('abort', aborted, { once: true });
      this.waiters.add(check);
    });
  }

  /**
   * A call found the connection broken (the request could not be sent, the
   * server stopped answering): drop it and reconnect, unless it was already
   * replaced.
   */
  lost(client: Client, why: string): void {
    if (this.state.kind !== 'up' || this.state.client !== client) return;
    this.down(why);
    this.discard(client);
  }

  async close(): Promise<void> {
    const { state } = this;
    this.state = { kind: 'closed' };
    clearTimeout(this.timer);
    for (const wake of [...this.waiters]) wake();
    if (state.kind === 'up') {
      state.client.onclose = undefined;
      await state.client.close().catch(() => {});
    }
  }

  /** A method, not a field test: the state changes while an attempt awaits. */
  private closed(): boolean {
    return this.state.kind === 'closed';
  }

  /** Down, and not only since a moment ago: a reconnect has failed since. */
  private givenUp(): boolean {
    return this.state.kind === 'down' && this.failures > 1;
  }

  private upClient(): Client | undefined {
    return this.state.kind === 'up' ? this.state.client : undefined;
  }

  private async attempt(): Promise<void> {
    if (this.state.kind === 'closed') return;
    const client = new Client({ name: 'holdline', version: '1' }, { capabilities: {} });
    const transport = this.transportOf();
    try {
      await client.connect(transport, { timeout: this.options.connectTimeoutMs });
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => this.relist(client));
      const tools = await this.listAll(client);
      if (this.closed()) {
        await client.close().catch(() => {});
        return;
      }
      client.onclose = () => this.lost(client, 'the connection closed');
      // Transports report trouble (a broken event stream, say) as errors, not closes: check the server still answers.
      client.onerror = (error) => this.check(client, error);
      const after = this.failures;
      this.failures = 0;
      this.state = { kind: 'up', client };
      if (after > 0) this.log.info({ failed_attempts: after }, `MCP server ${this.options.server} is reachable again`);
      this.options.onListed(tools);
      this.options.onChange();
      for (const wake of [...this.waiters]) wake();
    } catch (error) {
      client.onclose = undefined;
      await client.close().catch(() => {});
      if (this.closed()) return;
      this.down(describeError(error));
    }
  }

  /** Marks the server down, logs the first failure of a run of them, and schedules the next attempt. */
  private down(reason: string): void {
    const wasUp = this.state.kind === 'up';
    this.failures += 1;
    this.state = { kind: 'down', reason };
    const stderr = this.stderrTail.length > 0 ? { stderr: [...this.stderrTail] } : {};
    if (wasUp) {
      this.log.warn({ reason, ...stderr }, `MCP server ${this.options.server} connection lost: ${reason}; reconnecting`);
    } else if (this.failures === 1) {
      this.log.warn({ reason, ...stderr }, `MCP server ${this.options.server} is unreachable: ${reason}; retrying`);
    } else {
      this.log.debug({ reason, failed_attempts: this.failures }, 'MCP server still unreachable');
    }
    this.options.onChange();
    for (const wake of [...this.waiters]) wake();
    const delay = reconnectDelay(this.failures, this.options.backoff);
    this.timer = setTimeout(() => void this.attempt(), delay);
    this.timer.unref();
  }

  private discard(client: Client): void {
    client.onclose = undefined;
    client.onerror = undefined;
    // Closing rejects the requests still waiting on this client, so their calls end now rather than at their timeout.
    void client.close().catch(() => {});
  }

  private check(client: Client, error: Error): void {
    this.log.debug({ err: describeError(error) }, 'MCP transport reported an error');
    if (this.checking || this.upClient() !== client) return;
    this.checking = true;
    void client
      .ping({ timeout: this.options.connectTimeoutMs })
      .catch((failed: unknown) => this.lost(client, describeError(failed)))
      .finally(() => (this.checking = false));
  }

  private relist(client: Client): void {
    if (this.upClient() !== client) return;
    void this.listAll(client).then(
      (tools) => {
        if (this.upClient() !== client) return;
        this.log.info('MCP server changed its tools; listed them again');
        this.options.onListed(tools);
        this.options.onChange();
      },
      (error: unknown) => {
        this.log.warn({ err: describeError(error) }, 'MCP server said its tools changed, but listing them failed');
        this.check(client, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  private async listAll(client: Client): Promise<Tool[]> {
    const tools: Tool[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const listed = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: this.options.connectTimeoutMs });
      tools.push(...listed.tools);
      cursor = listed.nextCursor;
      if (cursor === undefined) return tools;
    }
    this.log.warn({ pages: MAX_LIST_PAGES }, 'MCP server lists more pages of tools than Holdline reads; the rest are ignored');
    return tools;
  }

  private transportOf(): Transport {
    const config = this.options.transport;
    if (config.kind === 'http') {
      return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: config.headers } });
    }
    const transport = new StdioClientTransport({
      command: config.command,
      args: config.args,
      env: config.env,
      stderr: 'pipe',
      ...(config.cwd !== undefined ? { cwd: config.cwd } : {}),
    });
    this.keepStderr(transport.stderr as Readable | null);
    return transport;
  }

  /** A stdio server's stderr: to the debug log, and its last lines kept to explain why it went down. */
  private keepStderr(stream: Readable | null): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!.slice(-1_000);
      for (const line of lines) {
        const clean = oneLine(line, 300);
        if (!clean) continue;
        this.log.debug({ stderr: clean }, 'MCP server wrote to stderr');
        this.stderrTail.push(clean);
        if (this.stderrTail.length > STDERR_LINES_KEPT) this.stderrTail.shift();
      }
    });
  }
}
