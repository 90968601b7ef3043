import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { CallSummary, LiveCallEvent } from '../contracts/calls';
import { openCalls, readScopeOf, type CallFeed, type Gateway, type Principal } from '../gateway';
import { openEventStream } from './sse';

/** The most open calls the opening snapshot lists; a tenant with more is better served by paging the list. */
const SNAPSHOT_LIMIT = 500;

export interface CallStreamOptions {
  gateway: Gateway;
  feed: CallFeed;
  logger: Logger;
}

/**
 * `GET /v1/events`: a snapshot of the reader's open calls, then the live
 * events of calls in their scope (their own; an operator's tenant). Events
 * that happen while the snapshot is read wait for it, so it always comes first.
 */
export async function streamCalls(req: Request, res: Response, { gateway, feed, logger }: CallStreamOptions): Promise<void> {
  const user = typeof req.query.user === 'string' && req.query.user !== '' ? req.query.user : undefined;
  const scope = readScopeOf(res.locals.principal as Principal, user);
  let pending: LiveCallEvent[] | undefined = [];
  const unsubscribe = feed.subscribe(scope, (event) => {
    if (pending) pending.push(event);
    else stream.send(event.type, event);
  });
  let listed;
  try {
    listed = await openCalls(gateway.calls, gateway.registry, scope, SNAPSHOT_LIMIT);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  // The reader may have left while the list was read.
  if (!res.socket || res.socket.destroyed) {
    unsubscribe();
    return;
  }
  const stream = openEventStream(req, res);
  stream.onClose(unsubscribe);

  // Calls this server started that visibility does not show yet come from the feed; the feed's view is the fresher.
  const calls = new Map<string, CallSummary>();
  for (const { ref, summary } of listed) calls.set(ref.workflow_id, feed.adopt(ref, summary));
  for (const summary of feed.openIn(scope)) calls.set(summary.workflow_id, summary);
  // A call that finished while the list was read is not open any more.
  const finished = new Set(pending.flatMap((event) => (event.type === 'call.finished' ? [event.call.workflow_id] : [])));
  stream.send('calls.snapshot', { type: 'calls.snapshot', calls: [...calls.values()].filter((call) => !finished.has(call.workflow_id)) });
  const queued = pending;
  pending = undefined;
  for (const event of queued) stream.send(event.type, event);
  logger.debug({ tenant: scope.tenantId, user: scope.userId, open_calls: calls.size }, 'call stream opened');
}
