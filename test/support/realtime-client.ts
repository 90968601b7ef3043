import WebSocket from 'ws';

export interface RealtimeTestClient {
  socket: WebSocket;
  events: Record<string, any>[];
  send(event: object): void;
  /** Says something to the model as the user and asks for a response. */
  say(text: string): void;
  /** Resolves with the first event (already received or to come) that matches. */
  next(match: (event: Record<string, any>) => boolean, what?: string, timeoutMs?: number): Promise<Record<string, any>>;
  all(type: string): Record<string, any>[];
  closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** A realtime client over a real WebSocket to Holdline's /v1/realtime. */
export function connectRealtime(
  baseUrl: string,
  options: { token?: string; query?: Record<string, string>; tokenInQuery?: boolean; socket?: WebSocket.ClientOptions } = {},
): Promise<RealtimeTestClient> {
  const url = new URL(`${baseUrl.replace(/^http/, 'ws')}/v1/realtime`);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  if (options.tokenInQuery && options.token) url.searchParams.set('token', options.token);
  const headers: Record<string, string> = options.token && !options.tokenInQuery ? { authorization: `Bearer ${options.token}` } : {};
  const socket = new WebSocket(url, { ...options.socket, headers });
  const events: Record<string, any>[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (data) => {
    events.push(JSON.parse(data.toString()) as Record<string, any>);
    for (const wake of [...waiters]) wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  const client: RealtimeTestClient = {
    socket,
    events,
    send: (event) => socket.send(JSON.stringify(event)),
    say: (text) => {
      client.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
      client.send({ type: 'response.create' });
    },
    next: (match, what = 'event', timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(match);
          if (!found) return false;
          waiters.delete(check as () => void);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(new Error(`no ${what} within ${timeoutMs} ms; got: ${events.map((e) => e.type).join(', ')}`));
        }, timeoutMs);
        if (!check()) waiters.add(check as () => void);
      }),
    all: (type) => events.filter((e) => e.type === type),
    closed,
    close: async () => {
      if (socket.readyState === WebSocket.OPEN) socket.close();
      await closed;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(client));
    socket.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode} ${body}`), { status: res.statusCode, body })));
    });
    socket.once('error', reject);
  });
}

/** The text the scripted model spoke, in order. */
export function spoken(client: RealtimeTestClient): string[] {
  return client.all('response.output_text.done').map((e) => String(e.text));
}
