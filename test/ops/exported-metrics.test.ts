import { GatewayMetrics } from '../../src/gateway';
import { startHarness, type Harness } from '../support/harness';
import { PROCESS_METRICS, dashboardQueries, loadRules, metricNamesIn } from './ops-files';

/**
 * The names the alert rules and the dashboard read are the names a running
 * server exports on GET /metrics: a renamed metric fails here, not silently in
 * production as an alert that can never fire.
 */

const used = [...new Set([...loadRules().map((rule) => rule.expr), ...dashboardQueries().map((query) => query.expr)].flatMap(metricNamesIn))].sort();
const processMetrics = new Set<string>(PROCESS_METRICS);

/** Metric names in a Prometheus text exposition (its `# TYPE` lines, present before a metric has any sample). */
function namesIn(exposition: string): Set<string> {
  return new Set([...exposition.matchAll(/^# TYPE (\S+) \S+$/gm)].map((match) => match[1]!));
}

describe('metrics the rules and the dashboard read', () => {
  let harness: Harness;
  let exported: Set<string>;

  beforeAll(async () => {
    harness = await startHarness();
    const answer = await harness.get('/metrics', '');
    expect(answer.status).toBe(200);
    exported = namesIn(String(answer.body));
  });
  afterAll(async () => {
    await harness?.stop();
  });

  it('are exported by a server on GET /metrics', () => {
    const missing = used.filter((name) => !processMetrics.has(name) && !exported.has(name));
    expect(missing).toEqual([]);
  });

  it('include process metrics a server exports (with process metrics on, as outside tests)', async () => {
    const metrics = new GatewayMetrics();
    const names = namesIn(await metrics.registry.metrics());
    expect(used.filter((name) => processMetrics.has(name) && !names.has(name))).toEqual([]);
    expect(used.filter((name) => processMetrics.has(name)).length).toBeGreaterThan(0);
  });

  it('reads the scrape as a real exposition', () => {
    // Without these names the check above would pass on an empty scrape.
    expect([...exported]).toEqual(expect.arrayContaining(['holdline_tool_calls_total', 'holdline_ack_latency_seconds', 'holdline_breaker_state']));
  });
});
