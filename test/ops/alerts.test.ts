import { HOLDLINE_METRICS, PROCESS_METRICS, RULES_FILE, RULES_TEST_FILE, loadAlertCases, loadRules, metricNamesIn, promtool, recordedNamesIn, runbookAnchors } from './ops-files';

/**
 * deploy/prometheus/holdline-alerts.yml: promtool accepts it, its unit tests
 * pass, and every alert says how bad it is, what it means and where its
 * runbook entry is, and is tested both firing and silent.
 */
const rules = loadRules();
const alerts = rules.filter((rule) => rule.alert);
const alertNames = [...new Set(alerts.map((rule) => rule.alert!))];
const cases = loadAlertCases();

describe('Prometheus rules', () => {
  it('pass promtool check rules', () => {
    const run = promtool('check', 'rules', RULES_FILE);
    if (run.status !== 0) throw new Error(`promtool check rules failed:\n${run.output}`);
    expect(run.output).toContain('SUCCESS');
  });

  it('pass their unit tests (promtool test rules)', () => {
    const run = promtool('test', 'rules', RULES_TEST_FILE);
    if (run.status !== 0) throw new Error(`promtool test rules failed:\n${run.output}`);
    expect(run.output).toContain('SUCCESS');
  });

  it.each(alertNames)('%s is tested firing and not firing', (name) => {
    const mine = cases.filter((c) => c.alertname === name);
    expect(mine.filter((c) => c.firing).length).toBeGreaterThan(0);
    expect(mine.filter((c) => !c.firing).length).toBeGreaterThan(0);
  });

  it('tests no alert the rules do not define', () => {
    expect(cases.map((c) => c.alertname).filter((name) => !alertNames.includes(name))).toEqual([]);
  });

  it.each(alerts.map((rule) => [`${rule.alert} (${rule.labels?.severity})`, rule] as const))('%s has a severity, a duration, a summary, a description and a runbook anchor', (_name, rule) => {
    expect(['warning', 'critical']).toContain(rule.labels?.severity);
    expect(rule.for).toMatch(/^\d+[smh]$/);
    expect(rule.annotations?.summary?.length).toBeGreaterThan(10);
    expect(rule.annotations?.description?.length).toBeGreaterThan(40);
    expect(rule.annotations?.runbook_url).toBe(`RUNBOOK.md#${rule.alert!.toLowerCase()}`);
  });

  it('link only to anchors RUNBOOK.md has', () => {
    const anchors = runbookAnchors();
    const missing = alerts.map((rule) => rule.annotations!.runbook_url!.split('#')[1]!).filter((anchor) => !anchors.has(anchor));
    expect(missing).toEqual([]);
  });

  it('read only metrics Holdline exports and series the rules record', () => {
    const known = new Set<string>([...HOLDLINE_METRICS, ...PROCESS_METRICS]);
    const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
    const unknown = rules.flatMap((rule) => [...metricNamesIn(rule.expr).filter((name) => !known.has(name)), ...recordedNamesIn(rule.expr).filter((name) => !recorded.has(name))]);
    expect(unknown).toEqual([]);
  });
});
