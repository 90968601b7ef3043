import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** What the alert rules, their unit tests, the dashboard and the runbook are, read as the tests need them. */
export const ROOT = join(__dirname, '..', '..');
export const RULES_DIR = join(ROOT, 'deploy', 'prometheus');
export const RULES_FILE = join(RULES_DIR, 'holdline-alerts.yml');
export const RULES_TEST_FILE = join(RULES_DIR, 'holdline-alerts.test.yml');
export const DASHBOARD_FILE = join(ROOT, 'deploy', 'grafana', 'holdline.json');
export const RUNBOOK_FILE = join(ROOT, 'RUNBOOK.md');

/**
 * Every metric Holdline's servers export (GET /metrics), by name. The rules and
 * the dashboard may use these and nothing else; test/ops/exported-metrics.test.ts
 * checks a running server really exports what they use.
 */
export const HOLDLINE_METRICS = [
  'holdline_tool_calls_total',
  'holdline_ack_latency_seconds',
  'holdline_completion_latency_seconds',
  'holdline_in_flight_calls',
  'holdline_breaker_state',
  'holdline_limiter_fallbacks_total',
  'holdline_auth_failures_total',
  'holdline_admission_limit',
  'holdline_admission_in_flight',
  'holdline_admission_queue_length',
  'holdline_admission_wait_seconds',
  'holdline_shed_total',
  'holdline_degradation_mode',
  'holdline_tool_breaker_state',
  'holdline_tool_breaker_rejections_total',
  'holdline_task_queue_pollers',
] as const;

/** prom-client's process metrics, which servers export with the `holdline_` prefix. */
export const PROCESS_METRICS = [
  'holdline_process_cpu_seconds_total',
  'holdline_process_resident_memory_bytes',
  'holdline_nodejs_heap_size_used_bytes',
  'holdline_nodejs_eventloop_lag_p99_seconds',
] as const;

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadRules(): Rule[] {
  const file = parse(readFileSync(RULES_FILE, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  return file.groups.flatMap((group) => group.rules);
}

export interface AlertCase {
  test: string;
  alertname: string;
  evalTime: string;
  firing: boolean;
}

/** Every alert_rule_test of the promtool test file: which alert, and whether it expects it firing. */
export function loadAlertCases(): AlertCase[] {
  const file = parse(readFileSync(RULES_TEST_FILE, 'utf8')) as {
    tests: { name: string; alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[] }[];
  };
  return file.tests.flatMap((test) =>
    (test.alert_rule_test ?? []).map((c) => ({ test: test.name, alertname: c.alertname, evalTime: c.eval_time, firing: (c.exp_alerts ?? []).length > 0 })),
  );
}

export interface DashboardQuery {
  panel: string;
  expr: string;
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: { id: number; type: string; title: string; gridPos: { x: number; y: number; w: number; h: number }; targets?: { expr: string; refId: string }[] }[];
  templating: { list: { name: string; type: string }[] };
}

export function loadDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

export function dashboardQueries(dashboard = loadDashboard()): DashboardQuery[] {
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));
}

/**
 * The exported metric names a PromQL expression reads: identifiers starting with
 * `holdline_` (a histogram's `_bucket`, `_count` and `_sum` are its one name).
 * Names with a colon are recording rules' outputs, not exported metrics.
 */
export function metricNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const names = new Set<string>();
  for (const [token] of withoutStrings.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    if (token.startsWith('holdline_') && !token.includes(':')) names.add(token.replace(/_(bucket|count|sum)$/, ''));
  }
  return [...names].sort();
}

/** Recording rules' outputs an expression reads (names with a colon). */
export function recordedNamesIn(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...new Set([...withoutStrings.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map(([token]) => token).filter((t) => t.includes(':')))].sort();
}

/** The anchors GitHub gives RUNBOOK.md's headings. */
export function runbookAnchors(): Set<string> {
  const anchors = new Set<string>();
  for (const line of readFileSync(RUNBOOK_FILE, 'utf8').split('\n')) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(slugOf(heading[1]!));
  }
  return anchors;
}

function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export interface PromtoolRun {
  status: number | null;
  output: string;
}

/** Runs promtool in the rules' folder (the test file names the rules file relative to it). */
export function promtool(...args: string[]): PromtoolRun {
  const run = spawnSync('promtool', args, { cwd: RULES_DIR, encoding: 'utf8', timeout: 60_000 });
  if (run.error) return { status: null, output: `promtool could not run: ${run.error.message} (install Debian's prometheus package)` };
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
