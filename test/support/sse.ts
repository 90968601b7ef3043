export interface ReceivedEvent {
  event: string;
  data: any;
  /** Date.now() when the chunk that completed it arrived. */
  receivedAt: number;
}

/** Parses a Server-Sent Events body as its chunks arrive; resolves when it ends. Shared by the tests and the benchmark. */
export async function parseEventStream(body: AsyncIterable<Uint8Array>, onEvent: (event: ReceivedEvent) => void): Promise<void> {
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

/** Reads a call's event stream to its end (or until `timeoutMs`) and returns its events. */
export async function readEvents(url: string, token: string, timeoutMs = 20_000): Promise<ReceivedEvent[]> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
  const events: ReceivedEvent[] = [];
  await parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, (event) => events.push(event));
  return events;
}
