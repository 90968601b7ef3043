// npm run bench: Holdline against plain Temporal on the same embedded dev
// server. A script, not a test: missed targets are reported, only a crash
// exits non-zero. BENCH_QUICK=1 shrinks it to a smoke run.
//
// Sections, all by default; name some to run only those:
//   npm run bench -- core           Holdline vs raw Temporal: ack, lookup, progress, throughput, realtime
//   npm run bench -- tool-sources   an HTTP tool and MCP tools (Streamable HTTP, stdio) vs their services called directly
//   npm run bench -- capacity       per-call Temporal cost and saturation, cluster vs dev server (only when named; SCALING.md)
//   npm run bench -- watched        500 long calls unwatched, then watched (SSE, realtime) with progress pushed through
//                                   Redis between processes, then polled (only when named; its own processes)
import { performance } from 'node:perf_hooks';
import { PLAN, SCOPES } from './config';
import { measureRealtimeLatency, realtimeLoad, startSessionServer } from './realtime';
import { idleCheck } from './cpu';
import { holdlineThroughput, rawThroughput } from './load';
import { printReport } from './report';
import { measureAck, measureLookup, measureProgress } from './scenarios';
import { startBenchEnv, type BenchEnv } from './setup';
import { guardRun } from './guard';
import { measureToolSources } from './tool-sources';
import { runWatchedBench } from './watched';
import { printWatchedReport } from './watched/report';
import { runCapacity } from './capacity';

const startedAt = performance.now();
const say = (line: string) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
const print = (line: string) => process.stdout.write(`${line}\n`);

const SECTIONS = ['core', 'tool-sources', 'capacity', 'watched'] as const;
type Section = (typeof SECTIONS)[number];

/** The sections named on the command line; all when none is. */
function selectedSections(args: readonly string[]): ReadonlySet<Section> {
  const unknown = args.filter((arg) => !(SECTIONS as readonly string[]).includes(arg));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown section ${unknown.join(', ')}; the sections are ${SECTIONS.join(', ')}\n`);
    process.exit(2);
  }
  // capacity starts a cluster of its own: minutes, so only when named.
  return new Set(args.length > 0 ? (args as Section[]) : SECTIONS.filter((s) => s !== 'capacity' && s !== 'watched'));
}

async function main(): Promise<number> {
  const sections = selectedSections(process.argv.slice(2));
  let env: BenchEnv | undefined;
  let stopWatched: (() => Promise<void>) | undefined;
  guardRun('bench', PLAN.watchdogMs, () => env?.stop() ?? stopWatched?.());

  try {
    // Others' work on the same cores skews every figure: measure it while idle, before starting anything.
    const busyBefore = await idleCheck();
    if (sections.has('watched')) {
      const watched = await runWatchedBench(say, { polled: process.env.BENCH_WATCHED_POLLED !== '0', onStop: (stop) => (stopWatched = stop) });
      print('');
      printWatchedReport({ ...watched, busyBefore }, print);
      if (sections.size === 1) return 0;
    }
    if (sections.has('capacity')) {
      await runCapacity(say, print);
      if (sections.size === 1) return 0;
    }
    env = await startBenchEnv(say);
    say(`Holdline at ${env.apiUrl}, Temporal at ${env.temporalAddress}`);
    const core = sections.has('core') ? { ...(await runScenarios(env)), realtime: await runRealtime(env) } : undefined;
    const toolSources = sections.has('tool-sources') ? await runToolSources(env) : undefined;
    print('');
    printReport({ cliVersion: env.cliVersion, temporalAddress: env.temporalAddress, busyBefore, ...(core ? { core } : {}), ...(toolSources ? { toolSources } : {}) }, print);
    return 0;
  } catch (error) {
    process.stderr.write(`bench: crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    if (env) {
      say('cleaning up');
      await env.stop();
    }
  }
}

async function runScenarios(env: BenchEnv) {
  say(`ack latency: ${PLAN.ack.samples} refund_order acks and raw starts (after ${PLAN.ack.warmup} warm-up each)`);
  const ack = await measureAck(env);
  say(`lookup latency: ${PLAN.lookup.samples} rounds of Holdline, raw activity, raw local activity, in process (after ${PLAN.lookup.warmup} warm-up)`);
  const lookup = await measureLookup(env);
  say(`progress latency: ${PLAN.progress.calls} bench_progress calls read over SSE`);
  const progress = await measureProgress(env);
  // Raw first: any backlog its load leaves in the dev server weighs on Holdline's figure, not the baseline's.
  const load = `${PLAN.throughput.clients} clients for ${PLAN.throughput.durationMs / 1000} s`;
  say(`throughput: raw oneActivityWorkflow, ${load}`);
  const raw = await rawThroughput(env, 'activity');
  say(`throughput: raw oneLocalActivityWorkflow, ${load}`);
  const rawLocal = await rawThroughput(env, 'local-activity');
  say(`throughput: Holdline lookup_order, ${load}`);
  const holdline = await holdlineThroughput(env);
  return { ack, lookup, progress, throughput: { holdline, raw, rawLocal } };
}

async function runToolSources(env: BenchEnv) {
  const { warmup, samples } = PLAN.toolSources;
  say(`tool sources: ${samples} rounds of raw activity, TypeScript tool, HTTP tool and MCP tools (Streamable HTTP, stdio) through Holdline and called directly (after ${warmup} warm-up)`);
  return measureToolSources(env);
}

/** Realtime sessions against a Holdline server process of their own, on the same Temporal and worker. */
async function runRealtime(env: BenchEnv) {
  say('realtime: starting a session server process and the scripted model');
  const server = await startSessionServer(env.temporalAddress, env.taskQueue, [...SCOPES]);
  try {
    say(`realtime latency: ${PLAN.realtime.samples} refund and lookup calls over one session (after ${PLAN.realtime.warmup} warm-up)`);
    const latency = await measureRealtimeLatency(server, PLAN.realtime);
    const { sessions, durationMs } = PLAN.realtimeLoad;
    say(`realtime load: ${sessions} sessions for ${durationMs / 1000} s`);
    const load = await realtimeLoad(server, PLAN.realtimeLoad);
    return { latency, load };
  } finally {
    await server.stop();
  }
}

void main().then((code) => process.exit(code));
