import { Command } from 'commander';
import { saveHistory } from '../../temporal/history';
import { action, printJson, printLine } from '../output';
import { connectTemporal, isWorkflowNotFound, withTemporal, workflowNotFound, type TemporalOptions } from '../temporal-client';

export function recordCommand(): Command {
  return withTemporal(new Command('record'))
    .description('Save a workflow\'s history from Temporal as a replay fixture (JSON, as `temporal workflow show --output json`)')
    .argument('<workflow-id>', 'the call\'s workflow id, <tenant>/<user>/<call_id>')
    .requiredOption('--out <file>', 'where to write the history')
    .option('--json', 'print what was saved as one JSON object')
    .addHelpText('after', '\nExample:\n  holdline record acme/alice/refund-A-1002 --out test/replay/fixtures/refund-ok.json')
    .action(
      action(async (workflowId: string, options: TemporalOptions & { out: string; json?: boolean }) => {
        const client = await connectTemporal(options);
        let events: number;
        try {
          events = await saveHistory(client, workflowId, options.out);
        } catch (error) {
          if (isWorkflowNotFound(error)) throw workflowNotFound(workflowId, client.options.namespace);
          throw error;
        }
        if (options.json) printJson({ workflow_id: workflowId, events, out: options.out });
        else printLine(`saved ${events} events of ${workflowId} to ${options.out}`);
      }),
    );
}
