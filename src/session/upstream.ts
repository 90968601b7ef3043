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

/** Opens the model connection; rejects if it is not open within `timeoutMs`. */
export function connectModel(endpoint: ModelEndpoint, timeoutMs = 5_000): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(endpoint.url, { headers: endpoint.headers, handshakeTimeout: timeoutMs });
    socket.once('open', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', reject);
    socket.once('unexpected-response', (_request, response) => reject(new Error(`the model answered HTTP ${response.statusCode}`)));
  });
}
