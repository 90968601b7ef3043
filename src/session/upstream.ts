import WebSocket from 'ws';

/** Where the model is and how to authenticate to it. */
export interface ModelEndpoint {
  url: string;
  headers: Record<string, string>;
}

export interface ModelTarget {
  /** OpenAI's key; when set, the real Realtime API is used. */
  openaiApiKey?: string;
  /** Base URL of OpenAI's Realtime WebSocket endpoint. */
  openaiUrl: string;
  openaiModel: string;
  /** Base URL of a model speaking the same protocol without a key (the scripted model). */
  localUrl?: string;
}

/**
 * The upstream URL for a new conversation, or for an existing call when
 * `sidebandCallId` is given (the client talks to the model over WebRTC and
 * Holdline joins the same call server-side to handle its tools). The real and
 * the scripted path differ only in URL and key.
 */
export function modelEndpoint(target: ModelTarget, sidebandCallId?: string): ModelEndpoint {
  const query = sidebandCallId ? `call_id=${encodeURIComponent(sidebandCallId)}` : `model=${encodeURIComponent(target.openaiModel)}`;
  if (target.openaiApiKey) {
    return { url: `${target.openaiUrl}?${query}`, headers: { Authorization: `Bearer ${target.openaiApiKey}` } };
  }
  if (!target.localUrl) throw new Error('no model: set OPENAI_API_KEY, or run the scripted model');
  return { url: `${target.localUrl}?${query}`, headers: {} };
}

/** The model answered the upgrade with an HTTP status instead of a WebSocket (404: no such provider call). */
export class ModelRefusedError extends Error {
  constructor(readonly statusCode: number) {
    super(`the model answered HTTP ${statusCode}`);
    this.name = new.target.name;
  }
}

export interface ConnectModelOptions {
  /** Default 5 s. */
  timeoutMs?: number;
  /** Aborting drops the connection attempt (the client hung up meanwhile). */
  signal?: AbortSignal;
}

/** Opens the model connection; rejects if it is not open within the timeout, or when `signal` aborts. */
export function connectModel(endpoint: ModelEndpoint, options: ConnectModelOptions = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new Error('the client left before the model connection opened'));
    const socket = new WebSocket(endpoint.url, { headers: endpoint.headers, handshakeTimeout: options.timeoutMs ?? 5_000 });
    const abort = () => {
      socket.terminate();
      reject(new Error('the client left before the model connection opened'));
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    const settle = () => options.signal?.removeEventListener('abort', abort);
    socket.once('open', () => {
      settle();
      socket.removeAllListeners('error');
      socket.removeAllListeners('unexpected-response');
      resolve(socket);
    });
    // Kept until open: a dropped attempt may still report an error after it was settled.
    socket.on('error', (error) => {
      settle();
      reject(error);
    });
    socket.once('unexpected-response', (request, response) => {
      settle();
      response.resume();
      request.destroy();
      reject(new ModelRefusedError(response.statusCode ?? 0));
    });
  });
}
