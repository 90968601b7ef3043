import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes';
import { action, printJson, printLine } from '../output';
import { connectTemporal, isWorkflowNotFound, withTemporal, workflowNotFound, type TemporalOptions } from '../temporal-client';

interface ReplayOptions extends TemporalOptions {
  workflows?: string;
  json?: boolean;
}

export function replayCommand(): Command {
  return withTemporal(new Command('replay'))
    .description('Replay a workflow\'s history against the current workflow code: exit 0 when it replays, 1 with the reason when the code is no longer deterministic for it')
    .argument('<workflow-id>', 'the call\'s workflow id (<tenant>/<user>/<call_id>), or a saved history file (.json, from `holdline record`)')
    .option('--workflows <module>', 'replay against this workflows module instead of Holdline\'s own (to try a change)')
    .option('--json', 'print the verdict as one JSON object')
    .action(
      action(async (target: string, options: ReplayOptions) => {
        const { history, name } = await historyOf(target, options);
        // The worker SDK (a native module) loads only for replay, not for every command.
        const { bundleWorkflowCode, DefaultLogger, Runtime, Worker } = await import('@temporalio/worker');
        const { DeterminismViolationError } = await import('@temporalio/workflow');
        const workflowsPath = options.workflows ? resolve(options.workflows) : require.resolve('../../workflows');
        // Replay's own worker logs only what matters: the verdict is ours to print.
        Runtime.install({ logger: new DefaultLogger('ERROR') });
        const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietBundler });
        try {
          await Worker.runReplayHistory({ workflowBundle: { code } }, history, name);
        } catch (error) {
          const reason = (error as Error).message;
          const nondeterministic = error instanceof DeterminismViolationError;
          if (options.json) printJson({ workflow_id: name, replayed: false, nondeterministic, reason });
          throw new CliError(`${name} does not replay against ${options.workflows ?? 'the current workflow code'}: ${reason}`, EXIT.failed);
        }
        if (options.json) printJson({ workflow_id: name, replayed: true });
        else printLine(`${name} replays against ${options.workflows ?? 'the current workflow code'}`);
      }),
    );
}

async function historyOf(target: string, options: ReplayOptions): Promise<{ history: unknown; name: string }> {
  if (target.endsWith('.json') && existsSync(target)) {
    try {
      return { history: JSON.parse(readFileSync(target, 'utf8')), name: target };
    } catch (error) {
      throw new CliError(`${target} is not a history file (${(error as Error).message}); save one with \`holdline record\``, EXIT.usage);
    }
  }
  const client = await connectTemporal(options);
  try {
    return { history: await client.workflow.getHandle(target).fetchHistory(), name: target };
  } catch (error) {
    if (isWorkflowNotFound(error)) throw workflowNotFound(target, client.options.namespace);
    throw error;
  } finally {
    await client.connection.close();
  }
}

const noop = () => undefined;
const quietBundler = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (message: string) => process.stderr.write(`${message}\n`) };
