// npm run load -- spike: a spike of twice the highest sustainable rate, with the adaptive admission limit on and off.
//   1. A Holdline with admission adaptive (Temporal dev server, worker and server as processes on loopback):
//      the highest rate of the spike's mix it keeps up with (steps of --step s);
//   2. --duration s (60) at twice that rate, open loop, then --recovery s (15) at the rate itself;
//   3. a fresh Holdline (its own dev server and worker) with HOLDLINE_ADMISSION=off: a warm-up, then the same spike.
// Prints both side by side with a PASS/MISS per target. Exits non-zero if an admitted call is lost.
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startCluster, type Cluster } from '../chaos/cluster';
import { guardRun } from '../guard';
import { figuresOf, judgeStep, printSideBySide, printSteps, RECOVERED_SHARE, type RunFigures, type StepVerdict } from './spike-figures';
import { Callers, runSegments } from './spike-phase';
import { watchSpike } from './spike-watch';

/** Policy limits lifted, as in `npm run load`, and the per-tool in-flight bound too, so only admission sheds. */
const SERVER_ENV = {
  HOLDLINE_TENANT_RATE_PER_SEC: '100000',
  HOLDLINE_TENANT_BURST: '100000',
  HOLDLINE_SESSION_MAX_IN_FLIGHT: '1000',
  HOLDLINE_TOOL_MAX_IN_FLIGHT: '100000',
};
/** Refund stages of 100 ms (300 ms a refund): long enough for a cancel to find it running. */
const REFUND_STAGE_MS = 100;
const FACTOR = 1.25;

const startedAt = performance.now();
const say = (line: string) => process.stdout.write(`[${((performance.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
const print = (line: string) => process.stdout.write(`${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

let samplesFile: string | undefined;

export async function runSpike(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '60' },
      recovery: { type: 'string', default: '15' },
      step: { type: 'string', default: '8' },
      'start-rate': { type: 'string', default: '16' },
      'max-steps': { type: 'string', default: '5' },
      rate: { type: 'string' },
      clients: { type: 'string', default: '16' },
      sessions: { type: 'string', default: '48' },
      // The adaptive run alone, for trying a change to admission quickly.
      'adaptive-only': { type: 'boolean', default: false },
      // More server environment for both runs, e.g. --server-env HOLDLINE_ADMISSION_MIN_LIMIT=2 (repeatable).
      'server-env': { type: 'string', multiple: true, default: [] },
      // Writes every call's sample (kind, admission, answer and final times) as JSON lines, for a closer look.
      samples: { type: 'string' },
    },
  });
  const spikeMs = positive(values.duration, '--duration') * 1000;
  const recoveryMs = positive(values.recovery, '--recovery') * 1000;
  const stepMs = positive(values.step, '--step') * 1000;
  const plan = { clients: positive(values.clients, '--clients'), sessions: positive(values.sessions, '--sessions') };
  const runId = randomBytes(3).toString('hex');
  samplesFile = values.samples;
  if (samplesFile) writeFileSync(samplesFile, '');
  const serverEnv = { ...SERVER_ENV, ...Object.fromEntries(values['server-env'].map(settingOf)) };

  let cluster: Cluster | undefined;
  let callers: Callers | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'holdline-spike-'));
  const stop = async () => {
    callers?.close();
    callers = undefined;
    await cluster?.stop();
    cluster = undefined;
  };
  guardRun('spike', 20 * 60_000, () => stop().then(() => rmSync(dir, { recursive: true, force: true })));

  try {
    print('');
    print(`Holdline spike: twice the highest sustainable rate for ${spikeMs / 1000} s, then ${recoveryMs / 1000} s at the rate; admission adaptive, then off.`);
    print(`Machine load average before: ${load()}.`);
    print(`Server settings: ${Object.entries(serverEnv).map(([k, v]) => `${k}=${v}`).join(' ')}; admission at its defaults otherwise. Refund stages ${REFUND_STAGE_MS} ms.`);
    print('Mix per 20 arrivals: 10 lookup_order over HTTP, 5 lookup_order said to a realtime session, 2 refund_order read over SSE, 2 cancel_order approved over POST approval, 1 refund_order cancelled over POST cancel.');
    print('');
    say('bundling the workflows once for both Holdlines');
    const bundlePath = await bundle(dir);

    // 1. The adaptive Holdline and the highest rate it keeps up with.
    say('starting a Holdline with HOLDLINE_ADMISSION=adaptive (its own Temporal dev server)');
    cluster = await startCluster({ say: (l) => say(`  ${l}`), serverEnv: { ...serverEnv, HOLDLINE_ADMISSION: 'adaptive' }, refundStageMs: REFUND_STAGE_MS, workflowBundlePath: bundlePath });
    callers = await Callers.open(cluster, { ...plan, runId: `${runId}-a` });
    let maxRate: number | undefined = values.rate !== undefined ? positive(values.rate, '--rate') : undefined;
    if (maxRate === undefined) {
      say(`1. the highest sustained rate of the mix, from ${values['start-rate']}/s, ${stepMs / 1000} s per step`);
      const steps: StepVerdict[] = [];
      let rate = positive(values['start-rate'], '--start-rate');
      for (let i = 0; i < positive(values['max-steps'], '--max-steps'); i++) {
        const result = await runSegments(callers, [{ rate, durationMs: stepMs }], `spike-${runId}-s${i}`);
        const step = judgeStep(rate, result, (await callers.lost(result.samples)).length);
        steps.push(step);
        say(`   ${rate}/s: ${step.sustained ? 'kept up' : `did not keep up (${step.why})`}`);
        if (step.sustained) {
          maxRate = rate;
          rate = Math.round(rate * FACTOR);
        } else if (maxRate !== undefined) break;
        else rate = Math.max(1, Math.floor(rate / FACTOR));
      }
      print('');
      printSteps(steps, print);
      print('');
    } else {
      say(`1. the rate given: ${maxRate}/s (no search); warm-up at it for ${stepMs / 1000} s (not counted), as the search would have warmed it`);
      await runSegments(callers, [{ rate: maxRate, durationMs: stepMs }], `spike-${runId}-aw`);
    }
    if (maxRate === undefined) {
      print('No rate tried was sustained; no spike.');
      return 1;
    }

    const segments = [
      { rate: maxRate * 2, durationMs: spikeMs },
      { rate: maxRate, durationMs: recoveryMs },
    ];
    say(`2. adaptive: ${maxRate * 2}/s for ${spikeMs / 1000} s, then ${maxRate}/s for ${recoveryMs / 1000} s`);
    const adaptive = await spikeRun('adaptive', cluster, callers, segments, `spike-${runId}-a`, maxRate);
    await stop();
    if (values['adaptive-only']) {
      print('');
      printSideBySide(adaptive, adaptive, print);
      return adaptive.lost ? 1 : 0;
    }

    // 3. The same spike with admission off, on a fresh Holdline, after a warm-up at the rate.
    say('starting a fresh Holdline with HOLDLINE_ADMISSION=off (its own Temporal dev server and worker)');
    cluster = await startCluster({ say: (l) => say(`  ${l}`), serverEnv: { ...serverEnv, HOLDLINE_ADMISSION: 'off' }, refundStageMs: REFUND_STAGE_MS, workflowBundlePath: bundlePath });
    callers = await Callers.open(cluster, { ...plan, runId: `${runId}-o` });
    say(`   warm-up: ${maxRate}/s for ${stepMs / 1000} s (not counted)`);
    await runSegments(callers, [{ rate: maxRate, durationMs: stepMs }], `spike-${runId}-w`);
    say(`3. admission off: ${maxRate * 2}/s for ${spikeMs / 1000} s, then ${maxRate}/s for ${recoveryMs / 1000} s`);
    const off = await spikeRun('off', cluster, callers, segments, `spike-${runId}-o`, maxRate);
    await stop();

    print('');
    print(`Spike at ${maxRate * 2}/s (2 × ${maxRate}/s) for ${spikeMs / 1000} s, then ${maxRate}/s for ${recoveryMs / 1000} s; times client-measured from each send.`);
    print(`"Shed" is a new call not run: a 429 RATE_LIMITED, or a lookup answered by its fallback (by design a read tool with a fallback answers from it instead of being shed).`);
    print(`Recovery: seconds after the spike until every later second serves ≥ ${RECOVERED_SHARE * 100}% of ${maxRate} calls (served: admitted, ended ok, or cancelled as asked, within budget; by arrival second).`);
    print('');
    printSideBySide(adaptive, off, print);
    print('');
    print(`Machine load average after: ${load()}.`);
    return adaptive.lost || off.lost ? 1 : 0;
  } finally {
    say('cleaning up');
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function spikeRun(label: string, cluster: Cluster, callers: Callers, segments: { rate: number; durationMs: number }[], keyPrefix: string, maxRate: number): Promise<RunFigures> {
  const totalS = Math.round(segments.reduce((n, s) => n + s.durationMs, 0) / 1000);
  const watch = watchSpike(cluster);
  const result = await runSegments(callers, segments, keyPrefix, (elapsed) => {
    const s = Math.round(elapsed / 1000);
    if (s % 10 === 0) say(`   ${s}/${totalS} s`);
  });
  const { timeline, cores } = watch.stop();
  if (samplesFile) appendFileSync(samplesFile, result.samples.map((s) => JSON.stringify({ run: label, ...s })).join('\n') + '\n');
  say(`   cores used during the run: ${Object.entries(cores).map(([name, c]) => `${name} ${c.toFixed(2)}`).join(', ')}`);
  say(`   admission (limit/in flight[+queued], mode n/d/s) every 0.5 s: ${timeline.join(' ')}`);
  say(`   arrivals over; every call ended ${((result.elapsedMs - result.arrivalsMs) / 1000).toFixed(1)} s after the last; checking each admitted call's final envelope by GET ?wait=`);
  const lost = await callers.lost(result.samples);
  return figuresOf(label, result, lost, maxRate);
}

async function bundle(dir: string): Promise<string> {
  const noop = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (m: string) => process.stderr.write(`${m}\n`) },
  });
  const path = join(dir, 'workflow-bundle.js');
  writeFileSync(path, code);
  return path;
}

function settingOf(text: string): [string, string] {
  const at = text.indexOf('=');
  if (at <= 0) throw new Error(`--server-env takes NAME=VALUE, not "${text}"`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function positive(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number`);
  return n;
}
