import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import WebSocket, { WebSocketServer } from 'ws';
import { errorEnvelope } from '../contracts/envelope-builders';
import { bearerToken, GatewayRejection, newTraceId, type Gateway } from '../gateway';
import type { SessionStore } from './session-store';
import { WebSocketTransport } from './transport';
import { connectModel, type ModelEndpoint } from './upstream';

export const REALTIME_PATH = '/v1/realtime';

export interface RealtimeServerOptions {
  http: Server;
  gateway: Gateway;
  store: SessionStore;
  logger: Logger;
  /** The model to connect to; `sidebandCallId` joins a call the provider already has open. */
  modelEndpoint: (sidebandCallId?: string) => ModelEndpoint;
  /** A client frame larger than this closes the connection (1009). */
  maxFrameBytes: number;
}

/**
 * `ws://…/v1/realtime`: authenticates the client (Authorization: Bearer, or
 * `?token=` for browsers) before anything else, opens the model connection,
 * then hands both to a session. Query: `session_id` resumes a session,
 * `call_id` attaches to a provider call (sideband).
 */
export function attachRealtime(options: RealtimeServerOptions): { close(): void } {
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxFrameBytes });
  const log = options.logger.child({ component: 'realtime' });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://holdline');
    if (url.pathname !== REALTIME_PATH) return refuse(socket, 404, new GatewayRejection('INVALID_ARGUMENTS', `No WebSocket endpoint at ${url.pathname}`));
    void accept(request, socket, head, url).catch((error: unknown) => {
      const rejection = error instanceof GatewayRejection ? error : new GatewayRejection('INTERNAL', 'The realtime session could not start', { cause: error });
      if (!(error instanceof GatewayRejection)) log.error({ err: error }, 'realtime upgrade failed');
      refuse(socket, rejection.httpStatus, rejection);
    });
  };

  const accept = async (request: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => {
    const token = bearerToken(request.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    const principal = await options.gateway.authenticate({ token });
    const { session, resumed } = await options.store.open(principal, url.searchParams.get('session_id') ?? undefined);
    let model: WebSocket;
    try {
      model = await connectModel(options.modelEndpoint(url.searchParams.get('call_id') ?? undefined));
      model.on('error', (error) => log.warn({ err: error, session: session.id }, 'model connection error'));
    } catch (error) {
      options.store.release(session);
      throw new GatewayRejection('BACKEND_UNAVAILABLE', 'The realtime model could not be reached', { httpStatus: 502, cause: error });
    }
    wss.handleUpgrade(request, socket, head, (client) => {
      const clientTransport = new WebSocketTransport(client);
      const modelTransport = new WebSocketTransport(model);
      let clientGone = false;
      session.connect(clientTransport, modelTransport, options.store.resumeWindowMs, resumed);
      client.on('message', (data, isBinary) => session.onClientFrame(data as Buffer, isBinary));
      model.on('message', (data) => session.onModelFrame(data.toString()));
      client.on('close', (code, reason) => {
        clientGone = true;
        log.debug({ session: session.id, code, reason: reason.toString() }, 'client closed');
        session.clientClosed();
        options.store.release(session);
      });
      model.on('close', (code, reason) => {
        if (!clientGone) session.modelClosed(code, reason.toString());
      });
      client.on('error', (error) => log.warn({ err: error, session: session.id }, 'client connection error'));
    });
  };

  options.http.on('upgrade', onUpgrade);
  return {
    close: () => {
      options.http.off('upgrade', onUpgrade);
      for (const client of wss.clients) client.terminate();
      wss.close();
      options.store.close();
    },
  };
}

/** Answers a refused upgrade with a plain HTTP error carrying an error envelope. */
function refuse(socket: Duplex, status: number, rejection: GatewayRejection): void {
  const body = JSON.stringify(errorEnvelope(rejection.code, rejection.message, newTraceId()));
  socket.end(
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
