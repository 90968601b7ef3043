import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DASHBOARD_FILE, HOLDLINE_METRICS, PROCESS_METRICS, dashboardQueries, loadDashboard, loadRules, metricNamesIn, promtool, recordedNamesIn } from './ops-files';

/** deploy/grafana/holdline.json: a Grafana dashboard whose every query is valid PromQL over what Holdline exports. */
const dashboard = loadDashboard();
const queries = dashboardQueries(dashboard);
const graphs = dashboard.panels.filter((panel) => panel.type !== 'row');

describe('Grafana dashboard', () => {
  it('parses, and every panel has queries with distinct refIds', () => {
    expect(dashboard.uid).toBe('holdline');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource' }));
    expect(graphs.length).toBeGreaterThan(10);
    for (const panel of graphs) {
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      expect({ panel: panel.title, refIds: refIds.length > 0 && new Set(refIds).size === refIds.length }).toEqual({ panel: panel.title, refIds: true });
    }
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
  });

  it('lays panels out without overlap, inside the 24-column grid', () => {
    const taken = new Set<string>();
    const overlaps: string[] = [];
    for (const { title, gridPos } of dashboard.panels) {
      expect(gridPos.x + gridPos.w).toBeLessThanOrEqual(24);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          if (taken.has(`${x},${y}`)) overlaps.push(title);
          taken.add(`${x},${y}`);
        }
      }
    }
    expect([...new Set(overlaps)]).toEqual([]);
  });

  it('queries only metrics Holdline exports and series the rules record', () => {
    const known = new Set<string>([...HOLDLINE_METRICS, ...PROCESS_METRICS]);
    const recorded = new Set(loadRules().flatMap((rule) => (rule.record ? [rule.record] : [])));
    const unknown = queries.flatMap(({ panel, expr }) => [
      ...metricNamesIn(expr).filter((name) => !known.has(name)),
      ...recordedNamesIn(expr).filter((name) => !recorded.has(name)),
    ].map((name) => `${panel}: ${name}`));
    expect(unknown).toEqual([]);
  });

  it('shows every metric Holdline exports', () => {
    const shown = new Set(queries.flatMap(({ expr }) => metricNamesIn(expr)));
    expect(HOLDLINE_METRICS.filter((name) => !shown.has(name))).toEqual([]);
  });

  it('has queries promtool parses as PromQL', () => {
    // promtool has no query linter; a recording rule per query makes it parse each one.
    const dir = mkdtempSync(join(tmpdir(), 'holdline-dashboard-'));
    try {
      const rules = queries.map(({ expr }, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$__rate_interval', '5m') }));
      const file = join(dir, 'dashboard-queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      const run = promtool('check', 'rules', file);
      if (run.status !== 0) throw new Error(`a query of ${DASHBOARD_FILE} is not valid PromQL:\n${run.output}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
