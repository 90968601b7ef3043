import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { SEARCH_ATTRIBUTE_NAMES } from '../../src/runtime/holdline';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';

/**
 * The Temporal dev server on a fixed port and SQLite file, so it can be
 * SIGKILLed and started again on the same database and address.
 */
export class RestartableTemporal {
  private server: DevServer | undefined;

  constructor(
    private readonly cliPath: string,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.server?.pid;
  }

  get alive(): boolean {
    return this.pid !== undefined && exists(this.pid);
  }

  async start(): Promise<void> {
    this.server = await startDevServer({
      cliPath: this.cliPath,
      port: this.port,
      uiPort: null,
      dbFile: join(this.dir, 'temporal.sqlite'),
      namespace: 'default',
      searchAttributes: SEARCH_ATTRIBUTE_NAMES,
    });
  }

  /** SIGKILL: Temporal gets no chance to flush or close; its SQLite WAL is what survives. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !exists(pid)) return;
    process.kill(pid, 'SIGKILL');
    while (exists(pid)) await delay(20);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
