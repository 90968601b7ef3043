import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pino from 'pino';
import { z } from 'zod';
import { implementTool, type ToolImplementation } from '../../src/activities';
import { createHttpToolSource } from '../../src/activities/http';
import { connectMcpToolSource, type McpServerConfig, type McpToolSource } from '../../src/activities/mcp';
import { RUN_AS, type ExecutionPlan } from '../../src/contracts/tool-call';
import type { ToolSource } from '../../src/contracts/tool-source';
import { defineTool } from '../../src/contracts/tool-spec';
import { PLAN } from '../config';
import type { HoldlineHttp } from '../http';
import type { RawTemporal } from '../raw-temporal';
import { BenchError } from '../bench-error';
import { timed } from '../stats';
import { LOOKUP_PATH, MCP_LOOKUP_TOOL, startBenchEndpoint, startBenchMcpHttpServer, type BenchService, type Lookup } from './servers';

/**
 * Tools served by an HTTP endpoint and by MCP servers (Streamable HTTP and
 * stdio), called end to end through Holdline and directly, against the raw
 * one-activity round trip and the same lookup written as a TypeScript tool.
 * Each is a fast read tool, answered within its ack window (200, not 202).
 */

const ROOT = resolve(__dirname, '../..');
const STDIO_SERVER = join(__dirname, 'mcp-stdio-server.ts');
const ORDER_ID = 'A-1001';
/** Long enough that every call answers within the POST, short enough that a hang fails fast. */
const BUDGET = { ackAfterMs: 5_000, timeoutMs: 10_000 };

/** The services a tool can come from, each measured run as an activity and as a local activity. */
export const SOURCE_KINDS = ['http', 'mcpHttp', 'mcpStdio'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
type RunAs = ExecutionPlan['runAs'];

const KIND_PREFIX: Record<SourceKind, string> = { http: 'bench_http', mcpHttp: 'bench_mcp_http', mcpStdio: 'bench_mcp_stdio' };
/** The tool each source serves run one way: `bench_http_lookup`, `bench_http_lookup_local`, … */
export const toolNameOf = (kind: SourceKind, runAs: RunAs): string => `${KIND_PREFIX[kind]}_lookup${runAs === 'local-activity' ? '_local' : ''}`;
const TYPESCRIPT_TOOL = 'bench_ts_lookup';

const lookupOutput = z.object({ order_id: z.string(), state: z.string() });

/** The same lookup as a TypeScript tool run as an activity, as the HTTP and MCP tools are: what the sources add is measured against it. */
export const benchLookup = defineTool({
  name: TYPESCRIPT_TOOL,
  description: 'Benchmark only: looks an order up in process.',
  input: z.strictObject({ order_id: z.string() }),
  output: lookupOutput,
  scopes: ['bench'],
  sideEffect: 'read',
  budget: BUDGET,
});

/** The endpoint, the MCP servers and Holdline's sources for them, plus direct clients of each. */
export interface ToolSourceFixture {
  /** What the worker and the gateway serve. */
  sources: ToolSource[];
  tool: ToolImplementation;
  /** Each call checks its answer and throws on a wrong one. */
  direct: Record<SourceKind, () => Promise<void>>;
  /** Closes the direct clients, the sources and the servers; call after the worker has stopped. */
  stop(): Promise<void>;
}

export async function startToolSourceFixture(): Promise<ToolSourceFixture> {
  const closers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => process.stderr.write(`bench: error while stopping: ${String(error)}\n`));
  };
  try {
    const endpoint = await started(startBenchEndpoint(), closers);
    const mcpWeb = await started(startBenchMcpHttpServer(), closers);
    const logger = pino({ level: 'warn' }, pino.destination(2));
    const http = createHttpToolSource(
      RUN_AS.map((runAs) => ({
        name: toolNameOf('http', runAs),
        description: 'Benchmark only: looks an order up at the bench endpoint.',
        input: { type: 'object', properties: { order_id: { type: 'string' } }, required: ['order_id'] },
        output: { type: 'object', properties: { order_id: { type: 'string' }, state: { type: 'string' } }, required: ['order_id', 'state'] },
        url: `${endpoint.url}${LOOKUP_PATH}`,
        scopes: ['bench'],
        sideEffect: 'read' as const,
        budget: BUDGET,
        runAs,
      })),
    );
    // One source per way of running: a server's allow-list names each upstream tool once.
    const tools = (kind: SourceKind, runAs: RunAs) => ({ [MCP_LOOKUP_TOOL]: { as: toolNameOf(kind, runAs), scopes: ['bench'], budget: BUDGET, runAs } });
    const suffix = (runAs: RunAs) => (runAs === 'local-activity' ? '_local' : '');
    const stdioCommand = { command: process.execPath, args: ['--import', 'tsx', STDIO_SERVER], cwd: ROOT };
    const mcpSources: McpToolSource[] = [];
    for (const runAs of RUN_AS) {
      mcpSources.push(await connectedSource({ name: `bench_web${suffix(runAs)}`, url: mcpWeb.url, tools: tools('mcpHttp', runAs) }, logger, closers));
      mcpSources.push(await connectedSource({ name: `bench_stdio${suffix(runAs)}`, ...stdioCommand, tools: tools('mcpStdio', runAs) }, logger, closers));
    }

    const webClient = await mcpClient(new StreamableHTTPClientTransport(new URL(mcpWeb.url)), closers);
    const stdioClient = await mcpClient(new StdioClientTransport({ ...stdioCommand, stderr: 'inherit' }), closers);
    return {
      sources: [http, ...mcpSources],
      tool: implementTool(benchLookup, async ({ order_id }) => ({ order_id, state: 'shipped' })),
      direct: {
        http: () => fetchLookup(endpoint.url),
        mcpHttp: () => callMcpLookup(webClient),
        mcpStdio: () => callMcpLookup(stdioClient),
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function started(pending: Promise<BenchService>, closers: (() => Promise<void>)[]): Promise<BenchService> {
  const service = await pending;
  closers.push(() => service.close());
  return service;
}

/** An MCP source whose first listing must have found the tool: a bench against a server that is down measures nothing. */
async function connectedSource(config: McpServerConfig, logger: pino.Logger, closers: (() => Promise<void>)[]): Promise<McpToolSource> {
  const source = await connectMcpToolSource(config, { logger });
  closers.push(() => source.close());
  if (source.specs().length !== 1) {
    throw new BenchError(`MCP server ${config.name} is not serving its tool: ${JSON.stringify(Object.fromEntries(source.unavailable()))}`);
  }
  return source;
}

async function mcpClient(transport: StreamableHTTPClientTransport | StdioClientTransport, closers: (() => Promise<void>)[]): Promise<Client> {
  const client = new Client({ name: 'holdline-bench', version: '1' });
  await client.connect(transport);
  closers.push(() => client.close());
  return client;
}

/** The endpoint called as the HTTP source calls it: global fetch (pooled), a JSON body, an idempotency key. */
async function fetchLookup(base: string): Promise<void> {
  const response = await fetch(`${base}${LOOKUP_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `bench-direct-${randomUUID()}` },
    body: JSON.stringify({ order_id: ORDER_ID }),
  });
  const body = (await response.json()) as Lookup;
  if (response.status !== 200 || body.order_id !== ORDER_ID) throw new BenchError(`the bench endpoint answered ${response.status}: ${JSON.stringify(body)}`);
}

async function callMcpLookup(client: Client): Promise<void> {
  const result = await client.callTool({ name: MCP_LOOKUP_TOOL, arguments: { order_id: ORDER_ID } });
  const found = result.structuredContent as Lookup | undefined;
  if (result.isError || found?.order_id !== ORDER_ID) throw new BenchError(`the bench MCP server answered ${JSON.stringify(result)}`);
}

/** One source's samples, one per round: its tool through Holdline run each way, and its service called directly. */
export interface SourceSamples {
  activity: number[];
  localActivity: number[];
  direct: number[];
}

export interface ToolSourceResult {
  /** Raw execute of oneActivityWorkflow: the round trip every activity-run tool here pays. */
  rawActivity: number[];
  /** Raw execute of oneLocalActivityWorkflow: the same run as a local activity. */
  rawLocalActivity: number[];
  /** bench_ts_lookup: the lookup as a TypeScript tool (activity), over HTTP to its ok envelope. */
  typescript: number[];
  sources: Record<SourceKind, SourceSamples>;
}

/** What the scenario needs of the bench environment. */
export interface ToolSourceEnv {
  http: HoldlineHttp;
  raw: RawTemporal;
  toolSources: ToolSourceFixture;
}

/** Sequential rounds, every path once per round, so drift over the run weighs on all alike. */
export async function measureToolSources(env: ToolSourceEnv): Promise<ToolSourceResult> {
  const sources = Object.fromEntries(SOURCE_KINDS.map((kind) => [kind, { activity: [], localActivity: [], direct: [] }])) as unknown as Record<SourceKind, SourceSamples>;
  const result: ToolSourceResult = { rawActivity: [], rawLocalActivity: [], typescript: [], sources };
  const { warmup, samples, maxMs } = PLAN.toolSources;
  const { direct } = env.toolSources;
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < warmup + samples && performance.now() < deadline; i++) {
    const rawActivity = (await timed(() => env.raw.execute('activity'))).ms;
    const rawLocalActivity = (await timed(() => env.raw.execute('local-activity'))).ms;
    const typescript = await holdlineLookup(env.http, TYPESCRIPT_TOOL);
    const round: { kind: SourceKind; activity: number; localActivity: number; direct: number }[] = [];
    for (const kind of SOURCE_KINDS) {
      const activity = await holdlineLookup(env.http, toolNameOf(kind, 'activity'));
      const localActivity = await holdlineLookup(env.http, toolNameOf(kind, 'local-activity'));
      round.push({ kind, activity, localActivity, direct: (await timed(direct[kind])).ms });
    }
    if (i < warmup) continue;
    result.rawActivity.push(rawActivity);
    result.rawLocalActivity.push(rawLocalActivity);
    result.typescript.push(typescript);
    for (const { kind, ...measured } of round) {
      sources[kind].activity.push(measured.activity);
      sources[kind].localActivity.push(measured.localActivity);
      sources[kind].direct.push(measured.direct);
    }
  }
  return result;
}

/** POST /v1/tool-calls to the final ok envelope, answered within the ack window. */
async function holdlineLookup(http: HoldlineHttp, tool: string): Promise<number> {
  const { ms, value: answer } = await timed(() => http.call(tool, { order_id: ORDER_ID }, `bench-source-${randomUUID()}`));
  if (answer.status !== 200 || answer.body?.status !== 'ok' || answer.body.data?.order_id !== ORDER_ID) {
    throw new BenchError(`${tool} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return ms;
}
