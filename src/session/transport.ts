import WebSocket from 'ws';

/**
 * One side of a realtime conversation as the session sees it: the client, or
 * the model. An interface, so unit tests can hand the session a recording fake.
 */
export interface Transport {
  send(event: object): void;
  close(code: number, reason: string): void;
  readonly isOpen: boolean;
}

export class WebSocketTransport implements Transport {
  constructor(readonly socket: WebSocket) {}

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(event: object): void {
    if (this.isOpen) this.socket.send(JSON.stringify(event));
  }

  /** Relays a frame as it came, without parsing it again. */
  sendRaw(text: string): void {
    if (this.isOpen) this.socket.send(text);
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason.slice(0, 120));
  }
}
