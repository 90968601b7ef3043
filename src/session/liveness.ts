import type WebSocket from 'ws';

/**
 * Pings `socket` every `intervalMs` and terminates it when a ping goes
 * unanswered for a whole interval, so a half-open peer (gone without a FIN:
 * a dropped network, a sleeping laptop) is let go within two intervals instead
 * of holding its session as "connected" forever. Returns a stop function; it
 * also stops when the socket closes.
 */
export function keepAlive(socket: WebSocket, intervalMs: number, onDead: () => void): () => void {
  let answered = true;
  const onPong = () => {
    answered = true;
  };
  const timer = setInterval(() => {
    if (!answered) {
      stop();
      onDead();
      socket.terminate();
      return;
    }
    answered = false;
    socket.ping();
  }, intervalMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    socket.off('pong', onPong);
    socket.off('close', stop);
  };
  socket.on('pong', onPong);
  socket.on('close', stop);
  return stop;
}
