// npm run talk: a terminal client for /v1/realtime. Type what the user says;
// see the model's answers and Holdline's tool_call events. Commands:
//   /approve <call_id>   /deny <call_id>   /interrupt (barge-in)   /quit
// Env: HOLDLINE_URL (default http://127.0.0.1:$PORT), TOKEN (default: a dev token for acme), SESSION_ID to resume.
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { loadConfig } from '../runtime/config';
import { issueDevToken } from '../runtime/jwt-secret';

async function main(): Promise<void> {
  const config = loadConfig();
  const base = (process.env.HOLDLINE_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/^http/, 'ws');
  const token =
    process.env.TOKEN ??
    (await issueDevToken(config, {
      tenantId: 'acme',
      userId: 'talk',
      scopes: ['orders:read', 'orders:refund', 'orders:write'],
    }));
  const url = new URL(`${base}/v1/realtime`);
  if (process.env.SESSION_ID) url.searchParams.set('session_id', process.env.SESSION_ID);
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const send = (event: object) => socket.send(JSON.stringify(event));

  socket.on('unexpected-response', (_req, res) => {
    say(`connection refused: HTTP ${res.statusCode}`);
    process.exit(1);
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
  socket.on('close', (code, reason) => {
    say(`[closed] ${code} ${reason.toString()}`);
    process.exit(0);
  });
  await new Promise((resolve) => socket.once('open', resolve));

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
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
