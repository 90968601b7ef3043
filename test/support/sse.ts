import { readEventStream } from '../../src/cli/event-stream';
export interface ReceivedEvent {
  event: string;
  data: any;
  /** Date.now() when the chunk that completed it arrived. */
  receivedAt: number;
}

/** Parses a Server-Sent Events body as its chunks arrive (the CLI's parser); resolves when it ends. Shared by the tests and the benchmark. */
export async function parseEventStream(body: AsyncIterable<Uint8Array>, onEvent: (event: ReceivedEvent) => void): Promise<void> {
  await readEventStream(body, (event) => onEvent({ ...event, receivedAt: Date.now() }));
}

/** Reads a call's event stream to its end (or until `timeoutMs`) and returns its events; `onEvent` sees each as it arrives. */
export async function readEvents(url: string, token: string, timeoutMs = 20_000, onEvent?: (event: ReceivedEvent) => void): Promise<ReceivedEvent[]> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok || !response.body) throw new Error(`event stream answered ${response.status}: ${await response.text()}`);
  const events: ReceivedEvent[] = [];
  await parseEventStream(response.body as unknown as AsyncIterable<Uint8Array>, (event) => {
    events.push(event);
    onEvent?.(event);
  });
  return events;
}
