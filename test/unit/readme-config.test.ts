import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigSchema } from '../../src/runtime/config';

/**
 * The README's configuration table is what operators read: a variable added to
 * the schema without a row, a row left for a removed one, or a default changed
 * on one side only would tell them something false.
 */
interface Row {
  name: string;
  defaultCell: string;
}

function configurationTable(readme: string): Row[] {
  const lines = readme.split('\n');
  const heading = lines.indexOf('## Configuration');
  if (heading < 0) throw new Error('README.md has no "## Configuration" section');
  const start = lines.findIndex((line, index) => index > heading && line.startsWith('|'));
  if (start < 0) throw new Error('the Configuration section has no table');
  const table: string[] = [];
  for (let index = start; index < lines.length && lines[index]!.startsWith('|'); index += 1) table.push(lines[index]!);
  const [header, separator, ...rows] = table;
  expect(cellsOf(header!).map((cell) => cell.toLowerCase())).toEqual(['variable', 'default', 'meaning']);
  expect(separator).toMatch(/^\|(\s*:?-+:?\s*\|)+$/);
  return rows.map((row) => {
    const cells = cellsOf(row);
    expect(cells).toHaveLength(3);
    const name = /^`([A-Z][A-Z0-9_]*)`$/.exec(cells[0]!)?.[1];
    if (!name) throw new Error(`a row's variable is not one name in backticks: ${row}`);
    return { name, defaultCell: cells[1]! };
  });
}

/** The cells of a Markdown table row; `\|` inside a cell is not a separator. */
function cellsOf(row: string): string[] {
  return row
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim());
}

describe("the README's configuration table", () => {
  const rows = configurationTable(readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8'));
  const defaults: Record<string, unknown> = ConfigSchema.parse({});
  const keys = Object.keys(ConfigSchema.shape);

  it('lists every variable of the configuration schema once, and no other', () => {
    const names = rows.map((row) => row.name);
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
    expect([...names].sort()).toEqual([...keys].sort());
  });

  it("shows each variable's default exactly as the schema has it", () => {
    const wrong = rows.flatMap(({ name, defaultCell }) => {
      if (!keys.includes(name)) return [];
      const fallback = defaults[name];
      if (fallback !== undefined) {
        const expected = `\`${String(fallback)}\``;
        return defaultCell === expected ? [] : [`${name}: README says ${defaultCell}, the schema ${expected}`];
      }
      // No default in the schema: the README says in words what happens when it is unset.
      return /^`[^`]*`$/.test(defaultCell) || defaultCell === '' ? [`${name}: has no default, README says ${defaultCell || 'nothing'}`] : [];
    });
    expect(wrong).toEqual([]);
  });
});
