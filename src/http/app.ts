import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorEnvelope } from '../contracts/envelope-builders';
import type { ErrorEnvelope } from '../contracts/envelope';
import type { ErrorCode } from '../contracts/error-codes';
import {
  bearerToken,
  CallControl,
  listCalls,
  readScopeOf,
  GatewayRejection,
  HTTP_STATUS,
  inSpan,
  isShutdown,
  newTraceId,
  recordSubmitOutcome,
  SPAN_ATTRIBUTES,
  SpanKind,
  type CallAddress,
  type Caller,
  type CallFeed,
  type Gateway,
  type Principal,
  type ProgressHub,
  type Span,
  type SubmitOutcome,
  type TokenVerifier,
} from '../gateway';
import { callListRequestOf } from './call-list';
import { consoleRoutes } from './console';
import { streamCalls } from './call-stream';
import { issueDevToken } from './dev-token';
import { serverInfo } from './info';
import { streamCallEvents } from './sse';

export interface HttpApiOptions {
  gateway: Gateway;
  hub: ProgressHub;
  /** Live events of this server's calls, for `GET /v1/events`. */
  feed: CallFeed;
  logger: Logger;
  /** Largest request body accepted; larger bodies get 413 before anything parses them. */
  maxBodyBytes?: number;
  /** More conditions `/readyz` requires besides Temporal answering, by name (e.g. this process's worker polling). */
  readiness?: Readonly<Record<string, () => boolean>>;
  /** Signs development tokens for `POST /dev/token`; absent (as in production), the route does not exist. */
  devTokens?: TokenVerifier;
  /** The Temporal namespace calls run in, and the Web UI's address when known: `GET /v1/info`. */
  temporal: { namespace: string; uiUrl?: string | undefined };
}

const ApprovalBody = z.strictObject({ approved: z.boolean() });
const ToolCallBody = z.object({ tool: z.string(), arguments: z.unknown().optional() }).loose();

/**
 * The HTTP face of the gateway. Every answer is an envelope (or a view of a
 * running call); errors keep the envelope shape and a fitting status.
 */
export function createHttpApi({ gateway, hub, feed, logger, maxBodyBytes = 64 * 1024, readiness = {}, devTokens, temporal }: HttpApiOptions): express.Express {
  const app = express();
  const control = new CallControl(gateway, feed);
  app.disable('x-powered-by');
  // Envelopes are never cached: hashing each one for an ETag is time on every answer.
  app.set('etag', false);

  const callPath = (callId: string) => `/v1/tool-calls/${encodeURIComponent(callId)}`;

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const temporal = await gateway.calls.ping().then(
      () => 'ok',
      () => 'unreachable',
    );
    const checks = Object.fromEntries(Object.entries(readiness).map(([name, check]) => [name, check() ? 'ok' : 'not_ready']));
    const ready = temporal === 'ok' && Object.values(checks).every((state) => state === 'ok');
    // Shedding is not "not ready": the admission state is detail for operators, never a reason to leave the load balancer.
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not_ready', temporal, breaker: gateway.breaker.state, ...checks, admission: gateway.admission.snapshot() });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(gateway.metrics.registry.contentType).send(await gateway.metrics.registry.metrics());
  });

  // Authenticate first: a stranger's request is not parsed, looked up, counted or echoed.
  app.use('/v1', async (req, res, next) => {
    res.locals.principal = await gateway.authenticate({ token: bearerToken(req.header('authorization')) });
    next();
  });
  app.use(express.json({ limit: maxBodyBytes, strict: false }));
  const callerOf = (res: Response): Caller => ({ principal: res.locals.principal as Principal });
  const addressOf = (req: Request): CallAddress => {
    const user = req.query.user;
    if (user !== undefined && typeof user !== 'string') throw new GatewayRejection('INVALID_ARGUMENTS', 'user must be given once');
    return { callId: String(req.params.callId), user };
  };

  if (devTokens) {
    app.post('/dev/token', async (req, res) => {
      res.json(await issueDevToken(req, devTokens));
    });
  }

  const info = serverInfo(temporal.namespace, temporal.uiUrl);
  app.get('/v1/info', (_req, res) => {
    res.json(info);
  });

  app.get('/v1/tools', (_req, res) => {
    // The catalog a caller gets is what their tenant's policy and their scopes let them call.
    res.json({ tools: gateway.catalogFor(res.locals.principal as Principal) });
  });

  app.post('/v1/tool-calls', traced('/v1/tool-calls', async (req, res, span) => {
    const body = ToolCallBody.safeParse(req.body);
    if (!body.success) throw new GatewayRejection('INVALID_ARGUMENTS', 'The body must be a JSON object {"tool": string, "arguments": object or JSON string}');
    const key = req.header('idempotency-key');
    const session = req.header('holdline-session');
    const outcome = await gateway.submit({
      tool: body.data.tool,
      arguments: body.data.arguments,
      caller: callerOf(res),
      ...(session !== undefined ? { sessionId: session } : {}),
      key: key !== undefined ? { kind: 'explicit', key } : { kind: 'none' },
    });
    recordSubmitOutcome(span, outcome);
    sendOutcome(res, outcome, callPath);
  }));

  app.get('/v1/tool-calls', async (req, res) => {
    const { request, user } = callListRequestOf(req);
    const scope = readScopeOf(res.locals.principal as Principal, user);
    res.json(await listCalls(gateway.calls, gateway.registry, scope, request));
  });

  app.get('/v1/events', async (req, res) => {
    await streamCalls(req, res, { gateway, feed, logger });
  });

  app.get('/v1/tool-calls/:callId', async (req, res) => {
    const waitMs = Number(req.query.wait ?? 0);
    if (!Number.isFinite(waitMs) || waitMs < 0) throw new GatewayRejection('INVALID_ARGUMENTS', 'wait must be a number of milliseconds');
    const view = await control.view(callerOf(res), addressOf(req), waitMs);
    if (view.kind === 'finished') res.json(view.envelope);
    else res.json(view.view);
  });

  app.get('/v1/tool-calls/:callId/events', async (req, res) => {
    const { call, snapshot } = await control.find(callerOf(res), addressOf(req));
    streamCallEvents(req, res, { hub, call, snapshot, completionOf: (c) => gateway.completionOf(c) });
  });

  app.post('/v1/tool-calls/:callId/approval', traced('/v1/tool-calls/:callId/approval', async (req, res, span) => {
    const body = ApprovalBody.safeParse(req.body);
    if (!body.success) throw new GatewayRejection('INVALID_ARGUMENTS', 'The body must be {"approved": true} or {"approved": false}');
    const answer = await control.approve(callerOf(res), addressOf(req), body.data.approved);
    span.setAttribute(SPAN_ATTRIBUTES.traceId, answer.kind === 'finished' ? answer.envelope.trace_id : answer.view.trace_id);
    if (answer.kind === 'finished') res.json(answer.envelope);
    else res.status(202).json(answer.view);
  }));

  app.post('/v1/tool-calls/:callId/cancel', traced('/v1/tool-calls/:callId/cancel', async (req, res, span) => {
    const answer = await control.cancel(callerOf(res), addressOf(req));
    span.setAttribute(SPAN_ATTRIBUTES.traceId, answer.kind === 'finished' ? answer.envelope.trace_id : answer.call.trace_id);
    if (answer.kind === 'requested') res.status(202).json({ status: 'cancel_requested', cancellable: answer.cancellable, ...answer.call });
    else res.json(answer.envelope);
  }));

  app.use(consoleRoutes());

  app.use((req, res) => {
    sendError(res, errorEnvelope('INVALID_ARGUMENTS', `No route ${req.method} ${req.path.slice(0, 200)}`, newTraceId()), 404);
  });

  // The one place errors become HTTP answers.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const traceId = newTraceId();
    const { code, message, status, retryAfterMs } = describeHttpError(error);
    if (status >= 500 && code !== 'BACKEND_UNAVAILABLE') logger.error({ err: error, path: req.path, trace_id: traceId }, 'request failed');
    if (res.headersSent) return res.end();
    sendError(res, errorEnvelope(code, message, traceId), status, retryAfterMs);
  });

  return app;
}

/**
 * A route whose request is one span (kind SERVER) that continues the caller's
 * `traceparent` when it sends one; the gateway's and Temporal's spans hang below it.
 */
function traced(route: string, handler: (req: Request, res: Response, span: Span) => Promise<void>) {
  return (req: Request, res: Response) =>
    inSpan(`${req.method} ${route}`, { kind: SpanKind.SERVER, carrier: req.headers, attributes: { 'http.request.method': req.method, 'http.route': route } }, async (span) => {
      await handler(req, res, span);
      span.setAttribute('http.response.status_code', res.statusCode);
    });
}

function sendOutcome(res: Response, outcome: SubmitOutcome, callPath: (callId: string) => string): void {
  switch (outcome.kind) {
    case 'completed':
      res.status(200).json(outcome.envelope);
      return;
    case 'accepted':
      res.status(202).location(callPath(outcome.call.call_id)).json(outcome.ack);
      return;
    case 'rejected':
    case 'unknown':
      sendError(res, outcome.envelope, outcome.httpStatus, outcome.retryAfterMs);
  }
}

function sendError(res: Response, envelope: ErrorEnvelope, status: number, retryAfterMs?: number): void {
  if (retryAfterMs !== undefined) res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  else if (envelope.error_code === 'BACKEND_UNAVAILABLE') res.setHeader('Retry-After', '1');
  res.status(status).json(envelope);
}

function describeHttpError(error: unknown): { code: ErrorCode; message: string; status: number; retryAfterMs?: number } {
  if (error instanceof GatewayRejection) {
    return { code: error.code, message: error.message, status: error.httpStatus, ...(error.retryAfterMs ? { retryAfterMs: error.retryAfterMs } : {}) };
  }
  if (isShutdown(error)) return { code: 'BACKEND_UNAVAILABLE', message: 'Holdline is restarting; ask again shortly', status: 503, retryAfterMs: 1_000 };
  // body-parser's errors carry a `type` and an HTTP status.
  const type = (error as { type?: unknown }).type;
  if (type === 'entity.too.large') return { code: 'INVALID_ARGUMENTS', message: 'The request body is too large', status: 413 };
  if (type === 'entity.parse.failed') return { code: 'INVALID_ARGUMENTS', message: 'The request body is not valid JSON', status: 400 };
  if (typeof type === 'string' && type.startsWith('encoding.')) return { code: 'INVALID_ARGUMENTS', message: 'The request body encoding is not supported', status: 415 };
  return { code: 'INTERNAL', message: 'Holdline failed to handle the request', status: HTTP_STATUS.INTERNAL };
}
