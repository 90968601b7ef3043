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

/** A peer that stops reading must not make Holdline buffer without bound. */
export interface SendBound {
  /** Closing starts once this many bytes wait to be sent. */
  maxBufferedBytes: number;
  /** The close reason the peer sees (code 1008), e.g. "client is not reading". */
  reason: string;
  /** Called once, when the bound is passed and the socket starts closing. */
  onOverflow: () => void;
}

export class WebSocketTransport implements Transport {
  private overflowed = false;

  constructor(
    readonly socket: WebSocket,
    private readonly bound?: SendBound,
  ) {}

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN && !this.overflowed;
  }

  send(event: object): void {
    this.sendRaw(JSON.stringify(event));
  }

  /** Relays a frame as it came, without parsing it again. */
  sendRaw(text: string): void {
    if (!this.isOpen) return;
    this.socket.send(text);
    if (this.bound && this.socket.bufferedAmount > this.bound.maxBufferedBytes) {
      // Nothing more is queued: what waits is bounded by the bound plus one frame and the close frame.
      this.overflowed = true;
      this.socket.close(1008, this.bound.reason.slice(0, 120));
      this.bound.onOverflow();
    }
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code, reason.slice(0, 120));
  }
}
