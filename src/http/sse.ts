import type { Request, Response } from 'express';
import { terminalEventOf, type ToolCallEvent } from '../contracts/events';
import type { ResultEnvelope } from '../contracts/envelope';
import type { CallRef, CallSnapshot, ProgressHub } from '../gateway';

const KEEPALIVE_MS = 15_000;
/** A reader this far behind is not reading: end its stream rather than buffer for it without bound. */
const MAX_UNREAD_BYTES = 256 * 1024;

export interface CallEventStream {
  hub: ProgressHub;
  call: CallRef;
  snapshot: CallSnapshot;
  completionOf: (call: CallRef) => Promise<ResultEnvelope>;
}

/**
 * Server-Sent Events for one call: `accepted`, then `progress` as heartbeats
 * arrive, then exactly one of `completed`, `failed`, `cancelled`; then the
 * stream ends. Each event's data is the `tool_call.*` event as JSON.
 */
export function streamCallEvents(req: Request, res: Response, { hub, call, snapshot, completionOf }: CallEventStream): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let lastProgress = '';
  const send = (event: ToolCallEvent) => {
    if (event.type === 'tool_call.progress') {
      // The opening snapshot and the first poll can carry the same heartbeat: send it once.
      const key = JSON.stringify(event.progress);
      if (key === lastProgress) return;
      lastProgress = key;
    }
    if (res.writableLength > MAX_UNREAD_BYTES) {
      res.destroy();
      return;
    }
    res.write(`event: ${event.type.slice('tool_call.'.length)}\ndata: ${JSON.stringify(event)}\n\n`);
  };
  send({ type: 'tool_call.accepted', ...call, message: snapshot.closed ? 'The call has finished' : 'The call is running' });

  let finished = false;
  const finish = (envelope: ResultEnvelope) => {
    if (finished) return;
    finished = true;
    send(terminalEventOf(call, envelope));
    cleanup();
    res.end();
  };
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  let unsubscribe = () => undefined as void;
  const cleanup = () => {
    clearInterval(keepalive);
    unsubscribe();
  };
  req.on('close', () => {
    finished = true;
    cleanup();
  });

  if (snapshot.closed) {
    // A completion rejects only when this process stops waiting: end the stream without a verdict.
    completionOf(call).then(finish, () => res.end());
    return;
  }
  if (snapshot.progress) send({ type: 'tool_call.progress', ...call, progress: snapshot.progress });
  unsubscribe = hub.subscribe(call, (update) => {
    if (finished) return;
    if (update.kind === 'progress') send({ type: 'tool_call.progress', ...call, progress: update.progress });
    else finish(update.envelope);
  });
}
