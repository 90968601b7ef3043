import { Command } from 'commander';
import type { AcceptedEnvelope, ResultEnvelope } from '../../contracts/envelope';
import { failureOf, type HoldlineApi } from '../api-client';
import { connect, withConnection, type ConnectionOptions } from '../connection';
import { CliError, EXIT } from '../exit-codes';
import { action, printJson, printLine } from '../output';
import { progressView } from '../progress-bar';

interface CallOptions extends ConnectionOptions {
  key?: string;
  session?: string;
  json?: boolean;
  wait?: boolean;
}

export function callCommand(): Command {
  return withConnection(new Command('call'))
    .description('Call a tool (POST /v1/tool-calls): print the ack, a progress bar while it runs, then the final envelope')
    .argument('<tool>', 'the tool\'s name, as `holdline tools` lists it')
    .argument('[arguments]', 'the tool\'s arguments as a JSON object', '{}')
    .option('--key <key>', 'idempotency key: calling again with it attaches to the same call, never runs it twice')
    .option('--session <id>', 'the session the call belongs to (the Holdline-Session header)')
    .option('--json', 'machine output, one JSON object per line: the ack, each progress event, the final envelope; no bar')
    .option('--wait', 'when the call waits for an approval, keep waiting for its final envelope instead of exiting after the ack')
    .addHelpText(
      'after',
      '\nExits 0 when the envelope is ok (or, without --wait, when the call waits for an approval),\n1 when it is an error envelope. Examples:\n' +
        "  holdline call lookup_order '{\"order_id\":\"A-1001\"}'\n" +
        "  holdline call refund_order '{\"order_id\":\"A-1002\",\"reason\":\"damaged\"}' --key refund-A-1002 --json",
    )
    .action(action(async (tool: string, rawArguments: string, options: CallOptions) => runCall(tool, parseArguments(rawArguments), options)));
}

function parseArguments(raw: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new CliError(`the arguments are not JSON (${(error as Error).message}); quote them whole, e.g. '{"order_id":"A-1001"}'`, EXIT.usage);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliError('the arguments must be a JSON object, e.g. \'{"order_id":"A-1001"}\'', EXIT.usage);
  }
  return parsed;
}

async function runCall(tool: string, args: unknown, options: CallOptions): Promise<number> {
  const api = await connect(options);
  const headers: Record<string, string> = {
    ...(options.key !== undefined ? { 'idempotency-key': options.key } : {}),
    ...(options.session !== undefined ? { 'holdline-session': options.session } : {}),
  };
  const answer = await api.request('POST', '/v1/tool-calls', { body: { tool, arguments: args }, headers });
  if (answer.status === 202) {
    const ack = answer.body as AcceptedEnvelope;
    if (options.json) printJson(ack);
    else printLine(`accepted: ${ack.tool} ${ack.call_id} (${ack.message})`);
    return follow(api, ack, options);
  }
  if (answer.status >= 200 && answer.status < 300) return show(answer.body as ResultEnvelope, options);
  // An error envelope is the call's answer too: scripts get it on stdout.
  if (options.json && answer.body?.status === 'error' && answer.status !== 401 && answer.status !== 403) printJson(answer.body);
  throw failureOf(answer);
}

/** Follows an acknowledged call to its final envelope, showing its progress. */
async function follow(api: HoldlineApi, ack: AcceptedEnvelope, options: CallOptions): Promise<number> {
  const path = `/v1/tool-calls/${encodeURIComponent(ack.call_id)}`;
  const view = options.json ? undefined : progressView();
  const stop = new AbortController();
  let envelope: ResultEnvelope | undefined;
  let awaitingApproval: unknown;

  // Ctrl-C leaves the call running (it is durable); say how to find it again.
  process.once('SIGINT', () => {
    view?.stop();
    process.stderr.write(`\nholdline: stopped following; ${ack.call_id} keeps running: \`npx holdline calls\`, \`npx holdline cancel ${ack.call_id}\`\n`);
    process.exit(130);
  });

  const streaming = api.stream(
    `${path}/events`,
    ({ event, data }) => {
      if (event === 'progress') {
        if (options.json) printJson(data);
        else view!.update(data.progress);
      } else if (data?.result && (data.result.status === 'ok' || data.result.status === 'error')) {
        envelope = data.result as ResultEnvelope;
      }
    },
    { signal: stop.signal },
  );
  // Approval is decided at the start: one look says whether the call waits for it.
  const looked = api.request('GET', path).then((answer) => {
    if (answer.body?.status !== 'awaiting_approval' || envelope) return;
    const hint = `${ack.call_id} waits for an approval: \`npx holdline approve ${ack.call_id}\` or \`npx holdline deny ${ack.call_id}\``;
    if (options.json) printJson(answer.body);
    if (options.wait) {
      if (!options.json) process.stderr.write(`${hint}\n`);
      return;
    }
    awaitingApproval = answer.body;
    if (!options.json) printLine(hint);
    stop.abort();
  });
  await Promise.all([streaming, looked]);
  view?.stop();
  if (awaitingApproval) return EXIT.ok;
  // The stream ended without a verdict (the server restarted, say): ask for the result.
  while (!envelope) {
    const answer = await api.expectOk('GET', path, { query: { wait: 30_000 } });
    if (answer.body?.status === 'ok' || answer.body?.status === 'error') envelope = answer.body as ResultEnvelope;
  }
  return show(envelope, options);
}

function show(envelope: ResultEnvelope, options: CallOptions): number {
  if (options.json) printJson(envelope);
  else printLine(JSON.stringify(envelope, null, 2));
  if (envelope.status === 'error') process.stderr.write(`holdline: the call ended in ${envelope.error_code}: ${envelope.message}\n`);
  return envelope.status === 'ok' ? EXIT.ok : EXIT.failed;
}
