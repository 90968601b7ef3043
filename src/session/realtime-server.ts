import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { errorEnvelope } from '../contracts/envelope-builders';
import { bearerToken, GatewayRejection, newTraceId, type Gateway, type Principal } from '../gateway';
import { keepAlive } from './liveness';
import type { RealtimeSession } from './realtime-session';
import type { SessionRecords } from './records';
import type { SessionStore } from './session-store';
import { WebSocketTransport } from './transport';
import { connectModel, ModelRefusedError, type ModelEndpoint } from './upstream';

export const REALTIME_PATH = '/v1/realtime';

export interface RealtimeServerOptions {
  http: Server;
  gateway: Gateway;
  store: SessionStore;
  records: SessionRecords;
  logger: Logger;
  /** The model to connect to; `sidebandCallId` joins a call the provider already has open. */
  modelEndpoint: (sidebandCallId?: string) => ModelEndpoint;
  /** A client frame larger than this closes the connection (1009). */
  maxFrameBytes: number;
  /** Both sockets are pinged this often; one that misses a pong for a whole interval is dropped. */
  pingMs: number;
  /** Bytes waiting to be sent to a client (or the model) before it is closed as not reading (1008). */
  maxBufferedBytes: number;
}

/** A provider's call id, as OpenAI issues them (`rtc_…`); anything else cannot name a call. */
const PROVIDER_CALL_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * `ws://…/v1/realtime`: authenticates the client (Authorization: Bearer, or
 * `?token=` for browsers) before anything else, opens the model connection,
 * then hands both to a session. Query: `session_id` resumes a session,
 * `call_id` attaches to a provider call (sideband), which only the user whose
 * session first attached it may do; anyone else is told it does not exist.
 *
 * Every way an upgrade can fail (a refusal, a model that cannot be reached, a
 * client that hangs up while the model connection opens) closes the model
 * socket and lets go of the session. Once connected, both sockets are pinged
 * and bounded in what waits to be sent to them.
 */
export function attachRealtime(options: RealtimeServerOptions): { close(): Promise<void> } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
  const log = options.logger.child({ component: 'realtime' });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://holdline');
    if (url.pathname !== REALTIME_PATH) return refuse(socket, 404, new GatewayRejection('INVALID_ARGUMENTS', `No WebSocket endpoint at ${url.pathname}`));
    // The socket is ours now: a reset while the session starts must not become an uncaught error.
    const ignore = () => undefined;
    socket.on('error', ignore);
    // Read while the session starts, or a hang-up goes unnoticed: the socket is paused after the
    // upgrade request. A client sends nothing before the 101; whatever comes early is handed on as head.
    const hungUp = new AbortController();
    const onClose = () => hungUp.abort();
    const early: Buffer[] = [head];
    let earlyBytes = 0;
    const onData = (chunk: Buffer) => {
      early.push(chunk);
      earlyBytes += chunk.length;
      if (earlyBytes > options.maxFrameBytes) socket.destroy();
    };
    socket.on('data', onData);
    socket.once('end', onClose);
    socket.once('close', onClose);
    let handedOver = false;
    const handOver = (): Buffer => {
      if (!handedOver) {
        handedOver = true;
        socket.off('data', onData);
        socket.pause();
      }
      return Buffer.concat(early);
    };
    accept(request, socket, handOver, url, hungUp.signal)
      .catch((error: unknown) => {
        const rejection = error instanceof GatewayRejection ? error : new GatewayRejection('INTERNAL', 'The realtime session could not start', { cause: error });
        if (!(error instanceof GatewayRejection) && !hungUp.signal.aborted) log.error({ err: error }, 'realtime upgrade failed');
        if (socket.writable) refuse(socket, rejection.httpStatus, rejection);
      })
      .finally(() => {
        handOver();
        socket.off('end', onClose);
        socket.off('close', onClose);
        socket.off('error', ignore);
      });
  };

  const accept = async (request: IncomingMessage, socket: Duplex, handOver: () => Buffer, url: URL, hungUp: AbortSignal) => {
    const token = bearerToken(request.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    const principal = await options.gateway.authenticate({ token });
    const providerCallId = url.searchParams.get('call_id') ?? undefined;
    if (providerCallId !== undefined && !PROVIDER_CALL_ID.test(providerCallId)) throw noSuchProviderCall();
    const { session, resumed } = await options.store.open(principal, url.searchParams.get('session_id') ?? undefined);
    let model: WebSocket | undefined;
    try {
      if (providerCallId !== undefined) {
        options.store.holdProviderCall(session, providerCallId, await claimProviderCall(providerCallId, principal, session));
      }
      if (hungUp.aborted) throw new ClientLeft();
      model = await openModel(providerCallId, hungUp);
      // ws completes an upgrade synchronously (no verifyClient here) unless the socket is gone or the request is bad.
      let upgraded = false;
      if (!hungUp.aborted && socket.readable && socket.writable) {
        const connectedModel = model;
        wss.handleUpgrade(request, socket, handOver(), (client) => {
          upgraded = true;
          bind(session, client, connectedModel, resumed);
          // Paused by handOver(); ws reads from here on.
          socket.resume();
        });
      }
      if (!upgraded) throw new ClientLeft();
    } catch (error) {
      model?.terminate();
      // A new session is forgotten here, with any provider call claim it took; a resumed one keeps its window.
      options.store.abandon(session);
      if (error instanceof ClientLeft) log.debug({ session: session.id }, 'client left during the upgrade');
      throw error;
    }
  };

  /** True when this session now owns the claim, false when it shares its user's; throws 404 for anyone else. */
  const claimProviderCall = async (providerCallId: string, principal: Principal, session: RealtimeSession): Promise<boolean> => {
    let claim;
    try {
      claim = await options.records.claimProviderCall(providerCallId, principal, session.id);
    } catch (error) {
      throw new GatewayRejection('BACKEND_UNAVAILABLE', 'The realtime call could not be checked; try again shortly', { cause: error });
    }
    if (claim === 'refused') throw noSuchProviderCall();
    return claim === 'claimed';
  };

  const openModel = async (providerCallId: string | undefined, hungUp: AbortSignal): Promise<WebSocket> => {
    try {
      return await connectModel(options.modelEndpoint(providerCallId), { signal: hungUp });
    } catch (error) {
      if (hungUp.aborted) throw new ClientLeft();
      if (providerCallId !== undefined && error instanceof ModelRefusedError && error.statusCode === 404) throw noSuchProviderCall();
      throw new GatewayRejection('BACKEND_UNAVAILABLE', 'The realtime model could not be reached', { httpStatus: 502, cause: error });
    }
  };

  /** Wires a connected client and model to the session until the client is let go. */
  const bind = (session: RealtimeSession, client: WebSocket, model: WebSocket, resumed: boolean) => {
    let detached = false;
    const stops: (() => void)[] = [];
    // Once detached, nothing of these two sockets reaches the session: a resume may already own it.
    const detach = (why: string) => {
      if (detached) return;
      detached = true;
      for (const stop of stops) stop();
      log.debug({ session: session.id, why }, 'client detached');
      session.clientClosed();
      options.store.release(session);
    };
    const clientTransport = new WebSocketTransport(client, {
      maxBufferedBytes: options.maxBufferedBytes,
      reason: 'client is not reading',
      onOverflow: () => {
        log.warn({ session: session.id, buffered: client.bufferedAmount }, 'client is not reading: closing it');
        detach('client is not reading');
      },
    });
    const modelTransport = new WebSocketTransport(model, {
      maxBufferedBytes: options.maxBufferedBytes,
      reason: 'model is not reading',
      onOverflow: () => {
        log.warn({ session: session.id, buffered: model.bufferedAmount }, 'model is not reading: closing it');
        if (!detached) session.modelClosed(1008, 'model is not reading');
      },
    });
    model.on('error', (error) => log.warn({ err: error, session: session.id }, 'model connection error'));
    client.on('error', (error) => log.warn({ err: error, session: session.id }, 'client connection error'));
    session.connect(clientTransport, modelTransport, options.store.resumeWindowMs, resumed);
    client.on('message', (data, isBinary) => {
      if (!detached) session.onClientFrame(data as Buffer, isBinary);
    });
    model.on('message', (data) => {
      if (!detached) session.onModelFrame(data.toString());
    });
    client.on('close', (code, reason) => detach(`client closed (${code} ${reason.toString()})`));
    model.on('close', (code, reason) => {
      if (!detached) session.modelClosed(code, reason.toString());
    });
    stops.push(
      keepAlive(client, options.pingMs, () => log.info({ session: session.id }, 'client stopped answering pings: dropping it')),
      keepAlive(model, options.pingMs, () => log.warn({ session: session.id }, 'model stopped answering pings: dropping it')),
    );
    // A socket that closed while we wired it up has already missed its close event.
    if (client.readyState !== WebSocket.OPEN) detach('client closed during the upgrade');
    else if (model.readyState !== WebSocket.OPEN) session.modelClosed(1006, 'model connection closed during the upgrade');
  };

  options.http.on('upgrade', onUpgrade);
  return {
    close: async () => {
      options.http.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.terminate();
      wss.close();
      await options.store.close();
    },
  };
}

/** The client hung up before its connection was upgraded. */
class ClientLeft extends Error {
  constructor() {
    super('the client left before the upgrade completed');
    this.name = new.target.name;
  }
}

/** The same answer whether the call does not exist or belongs to someone else. */
function noSuchProviderCall(): GatewayRejection {
  return new GatewayRejection('INVALID_ARGUMENTS', 'No realtime call with that call_id', { httpStatus: 404 });
}

/** Answers a refused upgrade with a plain HTTP error carrying an error envelope. */
function refuse(socket: Duplex, status: number, rejection: GatewayRejection): void {
  const body = JSON.stringify(errorEnvelope(rejection.code, rejection.message, newTraceId()));
  const retryAfter = rejection.retryAfterMs ? `Retry-After: ${Math.ceil(rejection.retryAfterMs / 1000)}\r\n` : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${retryAfter}Connection: close\r\n\r\n${body}`,
  );
}

const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable' };
