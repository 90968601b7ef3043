/**
 * The bench's HTTP client for Holdline. Node 20's global fetch (undici) keeps
 * connections alive by default, so after warm-up no request pays a TCP handshake.
 */
export interface HttpAnswer {
  status: number;
  body: any;
}

export interface HoldlineHttp {
  /** POST /v1/tool-calls with a fresh Idempotency-Key per call. */
  call(tool: string, args: unknown, key: string): Promise<HttpAnswer>;
  /** Opens the call's event stream, hands each event over as it arrives, and resolves when the stream ends. */
  events(callId: string, onEvent: (event: StreamEvent) => void, timeoutMs?: number): Promise<void>;
}

export interface StreamEvent {
  event: string;
  data: any;
  /** Date.now() when the event was parsed. */
  receivedAt: number;
}

const REQUEST_TIMEOUT_MS = 10_000;

export function holdlineHttp(baseUrl: string, token: string): HoldlineHttp {
  const auth = { authorization: `Bearer ${token}` };
  return {
    call: async (tool, args, key) => {
      const response = await fetch(`${baseUrl}/v1/tool-calls`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ tool, arguments: args }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      return { status: response.status, body: parseJson(text) };
    },
    events: async (callId, onEvent, timeoutMs = 30_000) => {
      const response = await fetch(`${baseUrl}/v1/tool-calls/${encodeURIComponent(callId)}/events`, {
        headers: auth,
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
      await readStream(response.body as unknown as AsyncIterable<Uint8Array>, onEvent);
    },
  };
}

/** Parses Server-Sent Events as chunks arrive (the format test/support/sse.ts reads). */
async function readStream(body: AsyncIterable<Uint8Array>, onEvent: (event: StreamEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    const receivedAt = Date.now();
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) onEvent({ event, data: JSON.parse(data), receivedAt });
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
