// A small HTTP service of the kind a team already has; holdline.tools.yaml makes `POST /tickets` a tool.
// Run it (from the repository root) in a terminal of its own:
//   TICKETS_TOKEN=dev-secret npx tsx examples/quickstart/ticket-service.ts
// TICKETS_PORT sets its port (default 4100). With TICKETS_TOKEN set, requests must carry
// `Authorization: Bearer <TICKETS_TOKEN>`. `GET /tickets` lists what was created.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Ticket {
  ticket_id: string;
  subject: string;
  priority: 'low' | 'normal' | 'high';
  status: 'open';
  created_at: string;
}

export interface TicketServiceOptions {
  /** Default 4100; 0 picks a free port. */
  port?: number;
  /** The bearer token requests must carry; none checked when absent. */
  token?: string;
}

export interface TicketService {
  url: string;
  tickets: Ticket[];
  close(): Promise<void>;
}

/**
 * `POST /tickets` creates a ticket once per `Idempotency-Key`: the same key
 * again answers with the ticket it created, so a caller that retries (as
 * Holdline does after a timeout or a crash) never opens two.
 */
export function startTicketService({ port = 4100, token }: TicketServiceOptions = {}): Promise<TicketService> {
  const tickets: Ticket[] = [];
  const byKey = new Map<string, Ticket>();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { message: 'Missing or wrong bearer token' });
    if (req.method === 'GET' && req.url === '/tickets') return send(res, 200, { tickets });
    if (req.method !== 'POST' || req.url !== '/tickets') return send(res, 404, { message: 'Not found' });

    const key = req.headers['idempotency-key'];
    if (typeof key !== 'string' || key === '') return send(res, 400, { message: 'An Idempotency-Key header is required' });
    const body = await readJson(req);
    if (typeof body?.subject !== 'string' || body.subject.trim() === '') return send(res, 400, { message: 'subject is required' });

    const existing = byKey.get(key);
    if (existing) return send(res, 200, existing);
    const ticket: Ticket = {
      ticket_id: `T-${tickets.length + 1001}`,
      subject: body.subject.trim(),
      priority: body.priority === 'low' || body.priority === 'high' ? body.priority : 'normal',
      status: 'open',
      created_at: new Date().toISOString(),
    };
    tickets.push(ticket);
    byKey.set(key, ticket);
    console.log(`created ${ticket.ticket_id} "${ticket.subject}" (Idempotency-Key ${key})`);
    return send(res, 201, ticket);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 400, { message: 'The body must be JSON' }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      resolve({
        url: `http://127.0.0.1:${bound}`,
        tickets,
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > 64 * 1024) throw new Error('body too large');
  }
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
}

if (require.main === module) {
  const port = Number(process.env.TICKETS_PORT ?? 4100);
  startTicketService({ port, ...(process.env.TICKETS_TOKEN ? { token: process.env.TICKETS_TOKEN } : {}) })
    .then(({ url }) => console.log(`ticket service listening on ${url}`))
    .catch((error: unknown) => {
      console.error(`ticket service could not start: ${(error as Error).message}`);
      process.exit(1);
    });
}
