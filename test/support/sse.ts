export interface ReceivedEvent {
  event: string;
  data: any;
  /** ms since the stream opened. */
  at: number;
}

/** Reads a Server-Sent Events stream to its end (or until `timeoutMs`) and returns its events. */
export async function readEvents(url: string, token: string, timeoutMs = 20_000): Promise<ReceivedEvent[]> {
  const opened = Date.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
  const events: ReceivedEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data) events.push({ event, data: JSON.parse(data), at: Date.now() - opened });
    }
  }
  return events;
}
