import { readFileSync } from 'node:fs';
import { RUNBOOK_FILE, loadRules, runbookAnchors } from './ops-files';

/** RUNBOOK.md: every failure the blueprint lists, each with its metric, control, alert and steps; every link lands. */
const runbook = readFileSync(RUNBOOK_FILE, 'utf8');
const FAILURES = [
  'Volume spike',
  'Dependency latency',
  'Incompatible schema change',
  'Environment drift',
  'Access-policy change',
  'Backlog growth',
  'Auth 401/403 bursts',
  'Retry storms',
];

/** The text of a `### ` section, up to the next heading of its level or above. */
function section(title: string): string {
  const start = runbook.indexOf(`\n### ${title}\n`);
  if (start < 0) return '';
  const rest = runbook.slice(start + 1);
  const end = rest.slice(4).search(/\n#{2,3} /);
  return end < 0 ? rest : rest.slice(0, end + 4);
}

describe('RUNBOOK.md', () => {
  it.each(FAILURES)('takes "%s" to its metric, control, alert and what to do', (failure) => {
    const text = section(failure);
    for (const part of ['**Shows:**', '**Controls:**', '**Alerts:**', '**Do:**']) expect({ failure, part, present: text.includes(part) }).toEqual({ failure, part, present: true });
    expect(text).toMatch(/holdline_[a-z_]+/);
    expect(text).toMatch(/\[Holdline[A-Za-z]+\]\(#holdline[a-z]+\)/);
  });

  it('has a section for every alert the rules define', () => {
    for (const rule of loadRules().filter((r) => r.alert)) {
      const text = section(rule.alert!);
      expect({ alert: rule.alert, documented: text.length > 0 }).toEqual({ alert: rule.alert, documented: true });
    }
  });

  it('links only to anchors it has', () => {
    const anchors = runbookAnchors();
    for (const [, id] of runbook.matchAll(/<a id="([^"]+)">/g)) anchors.add(id!);
    const broken = [...runbook.matchAll(/\]\(#([^)]+)\)/g)].map(([, anchor]) => anchor!).filter((anchor) => !anchors.has(anchor));
    expect(broken).toEqual([]);
  });

  it('shows how to roll a worker deployment forward and back', () => {
    const text = runbook.slice(runbook.indexOf('## Rolling a worker deployment forward and back'));
    expect(text).toContain('holdline deployment current d4e5f6');
    expect(text).toContain('holdline deployment current a1b2c3');
    expect(text).toContain('holdline deployment status');
    expect(text).toContain('temporal worker deployment set-current-version');
  });
});
