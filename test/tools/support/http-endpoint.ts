import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP service that HTTP tools call in the tests, on 127.0.0.1 and a
 * free port. Each path behaves one way (see `route`); whatever a test needs
 * to vary comes in the tool's arguments, and every counter is kept per
 * `Idempotency-Key`, so tests running calls side by side never meet.
 */
export interface ReceivedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

export interface TestEndpoint {
  url: string;
  received: ReceivedRequest[];
  /** The requests with this method and path, in order. */
  to(method: string, path: string): ReceivedRequest[];
  /** Requests carrying this `Idempotency-Key`, whatever their path. */
  withKey(key: string): ReceivedRequest[];
  /** Side effects done, by `Idempotency-Key` (POST /tickets). */
  effects: Map<string, number>;
  /** What POST /huge wrote before its reader hung up, and whether it did hang up. */
  huge: { written: number; total: number; readerLeft: boolean };
  close(): Promise<void>;
}

interface Job {
  steps: number;
  polls: number;
  cancelled: boolean;
  /** Reported as the job's failure once its steps are done, when given. */
  failMessage?: string;
}

const HUGE_BYTES = 64 * 1024 * 1024;

export async function startTestEndpoint(): Promise<TestEndpoint> {
  const received: ReceivedRequest[] = [];
  const effects = new Map<string, number>();
  const results = new Map<string, unknown>();
  const perKey = new Map<string, number>();
  const jobs = new Map<string, Job>();
  const huge = { written: 0, total: HUGE_BYTES, readerLeft: false };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
  /** Counts this path's requests for the request's key; 1 for the first. */
  const count = (path: string, key: string) => {
    const n = (perKey.get(`${path} ${key}`) ?? 0) + 1;
    perKey.set(`${path} ${key}`, n);
    return n;
  };

  const route = async (req: ReceivedRequest, res: ServerResponse): Promise<void> => {
    const key = String(req.headers['idempotency-key'] ?? '');
    const jobPath = /^\/jobs\/([^/]+)$/.exec(req.path);
    switch (`${req.method} ${jobPath ? '/jobs/:id' : req.path}`) {
      case 'POST /echo':
        return json(res, 200, { echoed: req.body });
      case 'POST /scored':
        return json(res, 200, { answer: 'shipped', score: 0.87 });
      case 'GET /lookup': {
        const query: Record<string, string[]> = {};
        for (const [name, value] of req.query) (query[name] ??= []).push(value);
        return json(res, 200, { query });
      }
      case 'POST /tickets': {
        // An idempotent side effect: one ticket per key, the same answer to every repeat.
        if (results.has(key)) return json(res, 200, results.get(key));
        const created = { ticket_id: `T-${effects.size + 1}`, subject: req.body.subject };
        effects.set(key, (effects.get(key) ?? 0) + 1);
        results.set(key, created);
        if (req.body.hang_first === true && count(req.path, key) === 1) return; // committed, never answered
        return json(res, 200, created);
      }
      case 'POST /reject':
        return json(res, 422, { error: { code: 'closed', message: req.body.message } });
      case 'POST /flaky': {
        const n = count(req.path, key);
        if (n <= req.body.failures) return json(res, 503, { message: 'Try again later' });
        return json(res, 200, { attempts: n });
      }
      case 'POST /slow': {
        const n = count(req.path, key);
        if (n <= req.body.hang_attempts) return; // answered never; the client gives up
        return json(res, 200, { attempts: n });
      }
      case 'POST /not-json':
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>All good</body></html>');
        return;
      case 'POST /huge':
        return writeHuge(res, huge);
      case 'POST /wrong-shape':
        return json(res, 200, { unexpected: true });
      case 'POST /jobs': {
        const id = `job-${jobs.size + 1}`;
        jobs.set(id, { steps: req.body.steps, polls: 0, cancelled: false, ...(typeof req.body.fail_message === 'string' ? { failMessage: req.body.fail_message } : {}) });
        if (req.body.via_body === true) return json(res, 202, { status_url: `/jobs/${id}` });
        return json(res, 202, { id }, { location: `/jobs/${id}` });
      }
      case 'GET /jobs/:id': {
        const job = jobs.get(jobPath![1]!);
        if (!job) return json(res, 404, { message: 'No such job' });
        if (job.cancelled) return json(res, 200, { state: 'cancelled' });
        job.polls += 1;
        if (job.steps < 0 || job.polls <= job.steps) {
          const percent = job.steps < 0 ? 10 : Math.round((job.polls / (job.steps + 1)) * 100);
          return json(res, 200, { state: 'running', progress: { percent, message: `Step ${job.polls}` } });
        }
        if (job.failMessage !== undefined) return json(res, 200, { state: 'failed', message: job.failMessage });
        return json(res, 200, { state: 'succeeded', result: { done: true, polls: job.polls } });
      }
      case 'DELETE /jobs/:id': {
        const job = jobs.get(jobPath![1]!);
        if (job) job.cancelled = true;
        res.writeHead(204).end();
        return;
      }
      default:
        if (req.path.startsWith('/cancel/')) {
          res.writeHead(204).end();
          return;
        }
        return json(res, 404, { message: `No route ${req.method} ${req.path}` });
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://endpoint.invalid');
      const text = Buffer.concat(chunks).toString('utf8');
      const request: ReceivedRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      received.push(request);
      route(request, res).catch((error: unknown) => {
        if (!res.headersSent) json(res, 500, { message: String(error) });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    to: (method, path) => received.filter((r) => r.method === method && r.path === path),
    withKey: (key) => received.filter((r) => r.headers['idempotency-key'] === key),
    effects,
    huge,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A JSON body far larger than any tool allows, written as fast as the reader takes it, until it hangs up. */
async function writeHuge(res: ServerResponse, huge: TestEndpoint['huge']): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.on('close', () => {
    if (!res.writableFinished) huge.readerLeft = true;
  });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  res.write('{"data":"');
  while (huge.written < huge.total && !res.destroyed) {
    huge.written += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off('drain', go).off('close', go);
          resolve();
        };
        res.on('drain', go).on('close', go);
      });
    }
  }
  if (!res.destroyed) res.end('"}');
}
