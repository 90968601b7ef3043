import { createInterface } from 'node:readline';
import { Command } from 'commander';
import WebSocket from 'ws';
import { baseUrlOf, tokenOf, withConnection, type ConnectionOptions } from '../connection';
import { CliError, EXIT } from '../exit-codes';
import { action } from '../output';

interface TalkOptions extends ConnectionOptions {
  session?: string;
}

/**
 * A terminal client for /v1/realtime: type what the user says; see the
 * model's answers and Holdline's tool_call events. `npm run talk` is this.
 */
export function talkCommand(): Command {
  return withConnection(new Command('talk'), { scope: 'orders:read orders:refund orders:write', user: 'talk' })
    .description('Talk to the agent in a realtime session (/v1/realtime): type the user\'s lines; /approve ID, /deny ID, /interrupt, /quit')
    .option('--session <id>', 'resume this session (default: SESSION_ID)')
    .addHelpText('after', '\nTALK_DEBUG=1 prints every event\'s type; TALK_LINGER_MS keeps the session open that long after input ends.')
    .action(action(async (options: TalkOptions) => talk(options)));
}

async function talk(options: TalkOptions): Promise<number> {
  const base = baseUrlOf(options).replace(/^http/, 'ws');
  const token = await tokenOf(options);
  const url = new URL(`${base}/v1/realtime`);
  const session = options.session ?? process.env.SESSION_ID;
  if (session) url.searchParams.set('session_id', session);
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const send = (event: object) => socket.send(JSON.stringify(event));

  const opened = new Promise<void>((resolveOpen, rejectOpen) => {
    socket.once('open', () => resolveOpen());
    socket.once('unexpected-response', (_req, res) => {
      const code = res.statusCode ?? 0;
      rejectOpen(
        code === 401 || code === 403
          ? new CliError(`the realtime session was refused (HTTP ${code}): get a token with \`npx holdline token\` and pass --token or TOKEN`, EXIT.unauthorized)
          : new CliError(`the realtime session was refused: HTTP ${code}`, EXIT.failed),
      );
    });
    socket.once('error', (error) =>
      rejectOpen(new CliError(`no Holdline answered at ${base} (${error.message}): start it with \`npx holdline start\`, or pass --url`, EXIT.unreachable)),
    );
  });

  // Like a polite caller, wait for the model to finish before saying the next line.
  let responding = false;
  const waiting: string[] = [];
  const speak = (text: string) => {
    send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
    send({ type: 'response.create' });
  };
  socket.on('message', (data) => {
    const event = JSON.parse(data.toString()) as Record<string, any>;
    if (event.type === 'response.created') responding = true;
    if (event.type === 'response.done') {
      responding = false;
      const next = waiting.shift();
      if (next) speak(next);
    }
    if (process.env.TALK_DEBUG) say(`  · ${event.type}`);
    switch (event.type) {
      case 'tool_call.session':
        return say(`[session] ${event.session_id}${event.resumed ? ' (resumed)' : ''}`);
      case 'response.output_text.done':
        return say(`[assistant] ${event.text}`);
      case 'tool_call.accepted':
        return say(`[tool] ${event.tool} ${event.call_id} accepted: ${event.message}`);
      case 'tool_call.progress':
        return say(`[tool] ${event.tool} ${event.call_id} ${event.progress.pct}% ${event.progress.message}`);
      case 'tool_call.approval_requested':
        return say(`[tool] ${event.tool} ${event.call_id} needs approval: ${JSON.stringify(event.arguments)} — /approve ${event.call_id} or /deny ${event.call_id}`);
      case 'tool_call.completed':
      case 'tool_call.failed':
      case 'tool_call.cancelled':
        return say(`[tool] ${event.tool} ${event.call_id} ${event.type.slice(10)}: ${JSON.stringify(event.result.data ?? event.result.message)}`);
      case 'error':
        return say(`[error] ${event.error?.code ?? ''} ${event.error?.message ?? ''}`);
    }
  });
  await opened;
  const closed = new Promise<void>((resolveClosed) =>
    socket.on('close', (code, reason) => {
      say(`[closed] ${code} ${reason.toString()}`);
      resolveClosed();
    }),
  );

  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    const [command, argument] = line.trim().split(/\s+/, 2);
    if (command === '/quit') return socket.close();
    if (command === '/approve' || command === '/deny') return send({ type: 'tool_call.approve', call_id: argument, approved: command === '/approve' });
    if (command === '/interrupt') return send({ type: 'input_audio_buffer.append', audio: '' });
    if (!line.trim()) return;
    if (responding) waiting.push(line);
    else speak(line);
  });
  input.on('close', () => setTimeout(() => socket.close(), Number(process.env.TALK_LINGER_MS ?? 0)));
  await closed;
  return EXIT.ok;
}
