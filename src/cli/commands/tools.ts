import { Command } from 'commander';
import { connect, withConnection, type ConnectionOptions } from '../connection';
import { action, printJson, printTable } from '../output';

interface CatalogTool {
  name: string;
  description?: string;
  parameters?: { properties?: Record<string, unknown>; required?: string[] };
}

export function toolsCommand(): Command {
  return withConnection(new Command('tools'))
    .description('List the tools your token may call (GET /v1/tools)')
    .option('--json', 'one JSON object per tool and line, with its JSON Schema parameters')
    .action(
      action(async (options: ConnectionOptions & { json?: boolean }) => {
        const api = await connect(options);
        const { body } = await api.expectOk('GET', '/v1/tools');
        const tools = (body.tools ?? []) as CatalogTool[];
        if (options.json) return tools.forEach(printJson);
        if (tools.length === 0) {
          process.stderr.write('no tools: your token\'s scopes allow none (see `npx holdline token --help`)\n');
          return;
        }
        printTable(
          ['TOOL', 'ARGUMENTS', 'DESCRIPTION'],
          tools.map((tool) => [tool.name, argumentsOf(tool), oneLine(tool.description ?? '')]),
        );
      }),
    );
}

function argumentsOf(tool: CatalogTool): string {
  const required = new Set(tool.parameters?.required ?? []);
  return Object.keys(tool.parameters?.properties ?? {})
    .map((name) => (required.has(name) ? name : `${name}?`))
    .join(' ');
}

function oneLine(text: string, max = 80): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
