import { Command } from 'commander';
import type { CallStreamEvent, CallSummary } from '../../contracts/calls';
import { connect, withConnection, type ConnectionOptions } from '../connection';
import { CliError, EXIT } from '../exit-codes';
import { action, durationText, printJson, printLine } from '../output';

export function watchCommand(): Command {
  return withConnection(new Command('watch'))
    .description('Follow calls live as they start, progress and finish (GET /v1/events): yours, or your tenant\'s with holdline:operator; Ctrl-C stops')
    .option('--json', 'one JSON object per event and line, as the server sends it')
    .action(
      action(async (options: ConnectionOptions & { json?: boolean }) => {
        const api = await connect(options);
        process.once('SIGINT', () => process.exit(EXIT.ok));
        await api.stream('/v1/events', ({ data }) => {
          if (options.json) printJson(data);
          else for (const line of linesOf(data as CallStreamEvent)) printLine(line);
        });
        throw new CliError(`the server at ${api.baseUrl} ended the stream (restarting?); run watch again`, EXIT.failed);
      }),
    );
}

function linesOf(event: CallStreamEvent): string[] {
  const time = new Date().toISOString().slice(11, 23);
  const who = (call: CallSummary) => `${call.tool} ${call.call_id} (${call.user_id}, session ${call.session_id})`;
  switch (event.type) {
    case 'calls.snapshot':
      return event.calls.map((call) => `${time} ${call.status.padEnd(9)} ${who(call)}`);
    case 'call.started':
      return [`${time} started   ${who(event.call)}${event.call.status === 'awaiting_approval' ? ' — waits for an approval' : ''}`];
    case 'call.progress':
      return [`${time} progress  ${event.call_id} ${Math.round(event.progress.pct)}% ${event.progress.stage}: ${event.progress.message}`];
    case 'call.status':
      return [`${time} ${event.status.padEnd(9)} ${event.call_id}`];
    case 'call.finished': {
      const result = event.result.status === 'ok' ? 'ok' : `${event.result.error_code}: ${event.result.message}`;
      return [`${time} finished  ${who(event.call)} ${result} ${durationText(event.call.duration_ms)}`.trimEnd()];
    }
    default:
      return [];
  }
}
