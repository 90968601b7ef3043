import { Command, InvalidArgumentError, Option } from 'commander';
import { CALL_STATUSES, type CallSummary } from '../../contracts/calls';
import { connect, withConnection, type ConnectionOptions } from '../connection';
import { action, durationText, printJson, printTable } from '../output';

interface CallsOptions extends ConnectionOptions {
  status?: string;
  tool?: string;
  session?: string;
  user?: string;
  limit: number;
  json?: boolean;
}

/** The server's largest page. */
const PAGE_SIZE = 100;

export function callsCommand(): Command {
  return withConnection(new Command('calls'))
    .description('List tool calls, newest first, from Temporal visibility (GET /v1/tool-calls): yours, or your tenant\'s with holdline:operator')
    .addOption(new Option('--status <status>', 'only calls in this state').choices(CALL_STATUSES))
    .option('--tool <name>', 'only calls of this tool')
    .option('--session <id>', 'only calls of this session')
    .option('--user <id>', 'only calls of this user (another user\'s needs holdline:operator)')
    .option('--limit <n>', 'at most this many calls', positiveInteger, 20)
    .option('--json', 'one JSON object per call and line')
    .action(
      action(async (options: CallsOptions) => {
        const api = await connect(options);
        const calls: CallSummary[] = [];
        let pageToken: string | undefined;
        do {
          const { body } = await api.expectOk('GET', '/v1/tool-calls', {
            query: {
              status: options.status,
              tool: options.tool,
              session: options.session,
              user: options.user,
              page_size: Math.min(PAGE_SIZE, options.limit - calls.length),
              page_token: pageToken,
            },
          });
          calls.push(...((body.calls ?? []) as CallSummary[]));
          pageToken = body.next_page_token;
        } while (pageToken && calls.length < options.limit);
        const shown = calls.slice(0, options.limit);
        if (options.json) return shown.forEach(printJson);
        if (shown.length === 0) {
          process.stderr.write('no calls match\n');
          return;
        }
        printTable(
          ['CALL', 'TOOL', 'USER', 'SESSION', 'STATUS', 'STARTED', 'DURATION', 'ATTEMPTS', 'PROGRESS'],
          shown.map((call) => [
            call.call_id,
            call.tool,
            call.user_id,
            call.session_id,
            call.status,
            call.started_at,
            durationText(call.duration_ms),
            call.attempts === undefined ? '' : String(call.attempts),
            call.progress && !call.closed_at ? `${Math.round(call.progress.pct)}% ${call.progress.stage}` : '',
          ]),
        );
      }),
    );
}

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive integer');
  return parsed;
}
