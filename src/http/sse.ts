import type { Request, Response } from 'express';
import { terminalEventOf, type ToolCallEvent } from '../contracts/events';
import type { ResultEnvelope } from '../contracts/envelope';
import type { CallRef, CallSnapshot, ProgressHub } from '../gateway';

const KEEPALIVE_MS = 15_000;
/** A reader this far behind is not reading: end its stream rather than buffer for it without bound. */
const MAX_UNREAD_BYTES = 256 * 1024;

/** A Server-Sent Events response: bounded for a reader that stops reading, kept alive while idle. */
export interface EventStream {
  /** Writes one event; a reader too far behind is cut off instead. */
  send(event: string, data: unknown): void;
  /** Ends the stream (and its keepalive). */
  end(): void;
  /** Runs once the stream is over, whoever ended it. */
  onClose(cleanup: () => void): void;
  readonly closed: boolean;
}

export function openEventStream(req: Request, res: Response): EventStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  let closed = false;
  const cleanups: (() => void)[] = [];
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    for (const cleanup of cleanups.splice(0)) cleanup();
  };
  req.on('close', close);
  res.on('close', close);
  return {
    send(event, data) {
      if (closed) return;
      if (res.writableLength > MAX_UNREAD_BYTES) {
        close();
        res.destroy();
        return;
      }
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    end() {
      close();
      res.end();
    },
    onClose(cleanup) {
      if (closed) cleanup();
      else cleanups.push(cleanup);
    },
    get closed() {
      return closed;
    },
  };
}

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
  const stream = openEventStream(req, res);
  let lastProgress = '';
  const send = (event: ToolCallEvent) => {
    if (event.type === 'tool_call.progress') {
      // The opening snapshot and the first poll can carry the same heartbeat: send it once.
      const key = JSON.stringify(event.progress);
      if (key === lastProgress) return;
      lastProgress = key;
    }
    stream.send(event.type.slice('tool_call.'.length), event);
  };
  send({ type: 'tool_call.accepted', ...call, message: snapshot.closed ? 'The call has finished' : 'The call is running' });

  const finish = (envelope: ResultEnvelope) => {
    if (stream.closed) return;
    send(terminalEventOf(call, envelope));
    stream.end();
  };

  if (snapshot.closed) {
    // A completion rejects only when this process stops waiting: end the stream without a verdict.
    completionOf(call).then(finish, () => stream.end());
    return;
  }
  if (snapshot.progress) send({ type: 'tool_call.progress', ...call, progress: snapshot.progress });
  const unsubscribe = hub.subscribe(call, (update) => {
    if (stream.closed) return;
    if (update.kind === 'progress') send({ type: 'tool_call.progress', ...call, progress: update.progress });
    else finish(update.envelope);
  });
  stream.onClose(unsubscribe);
}
