/** One Server-Sent Event: its `event:` name and its `data:` parsed as JSON. */
export interface StreamEvent {
  event: string;
  data: any;
}

/**
 * Parses a Server-Sent Events body as its chunks arrive and resolves when it
 * ends. Comments (keep-alives, pings) and events without JSON data are skipped.
 */
export async function readEventStream(body: AsyncIterable<Uint8Array>, onEvent: (event: StreamEvent) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        continue;
      }
      onEvent({ event: name, data: parsed });
    }
  }
}
