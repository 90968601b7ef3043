import pino from 'pino';
import { superviseWorker, type ClosableConnection, type RunnableWorker } from '../../src/runtime/worker';
import { waitFor } from '../support/wait';

/** A worker whose run() ends when the test says: cleanly, with an error, or on shutdown(). */
class FakeWorker implements RunnableWorker {
  private state: ReturnType<RunnableWorker['getState']> = 'INITIALIZED';
  private finish: (error?: Error) => void = () => {};
  run(): Promise<void> {
    this.state = 'RUNNING';
    return new Promise<void>((resolve, reject) => {
      this.finish = (error) => {
        this.state = error ? 'FAILED' : 'STOPPED';
        if (error) reject(error);
        else resolve();
      };
    });
  }
  shutdown(): void {
    this.finish();
  }
  getState() {
    return this.state;
  }
  fail(error: Error): void {
    this.finish(error);
  }
}

class FakeConnection implements ClosableConnection {
  closed = false;
  async close(): Promise<void> {
    this.closed = true;
  }
}

const quick = { initialMs: 1, maxMs: 5, factor: 2, jitter: 0 };
const logger = pino({ level: 'silent' });

describe('superviseWorker', () => {
  it('keeps connecting until Temporal answers, then polls', async () => {
    let attempts = 0;
    const supervised = superviseWorker({
      address: 'x:1',
      logger,
      backoff: quick,
      connect: async () => {
        if (++attempts < 4) throw new Error('connection refused');
        return new FakeConnection();
      },
      create: async () => new FakeWorker(),
    });
    expect(await supervised.firstAttempt).toBe(false);
    await supervised.polling();
    expect(attempts).toBe(4);
    expect(supervised.state).toBe('polling');
    await supervised.stop();
    expect(supervised.state).toBe('stopped');
  });

  it('reconnects on a fresh connection when the worker dies, whether it fails or stops unasked', async () => {
    const connections: FakeConnection[] = [];
    const workers: FakeWorker[] = [];
    const supervised = superviseWorker({
      address: 'x:1',
      logger,
      backoff: quick,
      connect: async () => connections[connections.push(new FakeConnection()) - 1]!,
      create: async () => workers[workers.push(new FakeWorker()) - 1]!,
    });
    expect(await supervised.firstAttempt).toBe(true);
    workers[0]!.fail(new Error('connection lost for good'));
    await waitFor(() => workers.length === 2 && supervised.state === 'polling', 2_000, 'a second worker');
    expect(connections[0]!.closed).toBe(true);
    workers[1]!.shutdown();
    await waitFor(() => workers.length === 3 && supervised.state === 'polling', 2_000, 'a third worker');
    await supervised.stop();
    expect(workers[2]!.getState()).toBe('STOPPED');
    expect(connections.every((connection) => connection.closed)).toBe(true);
    expect(supervised.state).toBe('stopped');
  });

  it('retries a worker that cannot be built, closing the connection each time', async () => {
    const connections: FakeConnection[] = [];
    let builds = 0;
    const supervised = superviseWorker({
      address: 'x:1',
      logger,
      backoff: quick,
      connect: async () => connections[connections.push(new FakeConnection()) - 1]!,
      create: async () => {
        if (++builds < 3) throw new Error('Namespace default is not found');
        return new FakeWorker();
      },
    });
    await supervised.polling();
    expect(builds).toBe(3);
    expect(connections.slice(0, 2).every((connection) => connection.closed)).toBe(true);
    await supervised.stop();
  });

  it('stops promptly during a connection attempt that hangs, and closes the connection that comes late', async () => {
    let arrive: (connection: FakeConnection) => void = () => {};
    const late = new FakeConnection();
    const supervised = superviseWorker({
      address: 'x:1',
      logger,
      connectTimeoutMs: 60_000,
      connect: () => new Promise<FakeConnection>((resolve) => (arrive = resolve)),
      create: async () => new FakeWorker(),
    });
    const started = Date.now();
    await supervised.stop();
    expect(Date.now() - started).toBeLessThan(200);
    expect(await supervised.firstAttempt).toBe(false);
    arrive(late);
    await waitFor(() => late.closed, 1_000, 'the late connection closed');
  });

  it('counts a connection attempt that takes too long as failed', async () => {
    let attempts = 0;
    const supervised = superviseWorker({
      address: 'x:1',
      logger,
      backoff: quick,
      connectTimeoutMs: 20,
      connect: () => (++attempts === 1 ? new Promise<FakeConnection>(() => {}) : Promise.resolve(new FakeConnection())),
      create: async () => new FakeWorker(),
    });
    expect(await supervised.firstAttempt).toBe(false);
    await supervised.polling();
    expect(attempts).toBe(2);
    await supervised.stop();
  });
});
