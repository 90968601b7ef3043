import { Command } from 'commander';
import { connect, withConnection, type ConnectionOptions } from '../connection';
import { action, printJson, printLine } from '../output';

interface ActOptions extends ConnectionOptions {
  user?: string;
  json?: boolean;
}

type Act = 'approve' | 'deny' | 'cancel';

const DESCRIPTIONS: Record<Act, string> = {
  approve: 'Approve a call that waits for an approval; it runs then',
  deny: 'Deny a call that waits for an approval; it ends in APPROVAL_DENIED',
  cancel: 'Ask a running call to stop; a tool that is not cancellable, or already moved money, still finishes',
};

/** approve, deny and cancel: one act on one call, exit 0 once Holdline took it. */
export function actCommand(act: Act): Command {
  return withConnection(new Command(act))
    .description(DESCRIPTIONS[act])
    .argument('<call_id>', 'the call\'s id (its idempotency key), as `holdline call` and `holdline calls` print it')
    .option('--user <id>', `the user who made the call, when it is not you (needs ${act === 'cancel' ? 'holdline:operator' : 'holdline:approve'})`)
    .option('--json', 'print Holdline\'s answer as one JSON object')
    .action(
      action(async (callId: string, options: ActOptions) => {
        const api = await connect(options);
        const path = `/v1/tool-calls/${encodeURIComponent(callId)}/${act === 'cancel' ? 'cancel' : 'approval'}`;
        const { body } = await api.expectOk('POST', path, {
          body: act === 'cancel' ? {} : { approved: act === 'approve' },
          query: { user: options.user },
        });
        if (options.json) return printJson(body);
        printLine(describe(act, callId, body));
      }),
    );
}

function describe(act: Act, callId: string, body: any): string {
  if (body?.status === 'ok' || body?.status === 'error') {
    return `${callId} had already finished: ${body.status === 'ok' ? 'ok' : `${body.error_code}: ${body.message}`}`;
  }
  if (act === 'cancel') {
    return body?.cancellable
      ? `asked ${callId} to stop; follow it with \`npx holdline calls\``
      : `asked ${callId} to stop, but ${body?.tool ?? 'its tool'} is not cancellable: it finishes anyway`;
  }
  return act === 'approve' ? `approved ${callId}; it runs now` : `denied ${callId}; it ends in APPROVAL_DENIED`;
}
