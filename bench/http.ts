import { Agent, request } from 'node:http';
import { parseEventStream, type ReceivedEvent } from '../test/support/sse';

/**
 * The bench's HTTP client for Holdline: node:http with a keep-alive agent, as
 * a service calling Holdline would pool its connections (Node 20's fetch adds
 * ~2 ms per request here, which would be measured as Holdline's). Event
 * streams use fetch.
 */
export interface HttpAnswer {
  status: number;
  body: any;
}

export interface HoldlineHttp {
  /** POST /v1/tool-calls with a fresh Idempotency-Key per call. */
  call(tool: string, args: unknown, key: string): Promise<HttpAnswer>;
  /** GET /v1/tool-calls/{id}?wait=: the final envelope of a call that was acked. */
  result(callId: string, waitMs: number): Promise<HttpAnswer>;
  /** Opens the call's event stream, hands each event over as it arrives, and resolves when the stream ends. */
  events(callId: string, onEvent: (event: StreamEvent) => void, timeoutMs?: number): Promise<void>;
  /** Closes the pooled connections. */
  close(): void;
}

export type StreamEvent = ReceivedEvent;

const REQUEST_TIMEOUT_MS = 10_000;

export function holdlineHttp(baseUrl: string, token: string, options: { maxSockets?: number } = {}): HoldlineHttp {
  const auth = { authorization: `Bearer ${token}` };
  const agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
  const send = (method: string, path: string, headers: Record<string, string>, body?: string, timeoutMs = REQUEST_TIMEOUT_MS) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const req = request(`${baseUrl}${path}`, { method, agent, headers: { ...auth, ...headers }, timeout: timeoutMs }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parseJson(text) }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('request timed out')));
      req.on('error', reject);
      req.end(body);
    });
  return {
    call: (tool, args, key) =>
      send('POST', '/v1/tool-calls', { 'content-type': 'application/json', 'idempotency-key': key }, JSON.stringify({ tool, arguments: args })),
    result: (callId, waitMs) => send('GET', `/v1/tool-calls/${encodeURIComponent(callId)}?wait=${waitMs}`, {}, undefined, waitMs + REQUEST_TIMEOUT_MS),
    events: async (callId, onEvent, timeoutMs = 30_000) => {
      const response = await fetch(`${baseUrl}/v1/tool-calls/${encodeURIComponent(callId)}/events`, {
        headers: auth,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
      await parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, onEvent);
    },
    close: () => agent.destroy(),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
