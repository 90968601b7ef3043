import { SseParser } from '../../src/console/app/sse';

describe('console SSE parser', () => {
  it('yields each event once it is complete, however the stream is split', () => {
    const text = 'event: call.started\ndata: {"a":1}\n\n: ping\n\nevent: call.progress\r\ndata: {"b":\r\ndata: 2}\r\n\r\n';
    for (let cut = 0; cut <= text.length; cut += 1) {
      const parser = new SseParser();
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(events).toEqual([
        { event: 'call.started', data: '{"a":1}' },
        { event: 'call.progress', data: '{"b":\n2}' },
      ]);
    }
  });

  it('names an event without `event:` "message" and ignores comments and unknown fields', () => {
    const parser = new SseParser();
    expect(parser.push(': keepalive\n\nid: 7\nretry: 10\ndata:x\n\n')).toEqual([{ event: 'message', data: 'x' }]);
  });
});
