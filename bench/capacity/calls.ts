import { Client as PgClient } from 'pg';
import { holdlineHttp, type HoldlineHttp } from '../http';
import type { Target } from './targets';

export type CallKind = 'lookup' | 'refund' | 'approval';

export const CALL_KINDS: Record<CallKind, string> = {
  lookup: 'fast read (lookup_order)',
  refund: 'slow with progress (refund_order, SSE reader)',
  approval: 'with approval (cancel_order, approved)',
};

export const SCOPES = ['orders:read', 'orders:refund', 'orders:write'] as const;

/** HTTP clients of every server of a target; calls go round robin, as behind a load balancer. */
export interface Callers {
  next(): { http: HoldlineHttp; base: string };
  token: string;
  close(): void;
}

export async function callersOf(target: Target): Promise<Callers> {
  const token = await target.token(SCOPES);
  const clients = target.servers.map((base) => ({ http: holdlineHttp(base, token, { maxSockets: 256 }), base }));
  let turn = 0;
  return { token, next: () => clients[turn++ % clients.length]!, close: () => clients.forEach((c) => c.http.close()) };
}

/** Fresh placed orders with a large total, in the store's database, so refunds never run out and each cancel has its own order. */
export async function createOrders(databaseUrl: string, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix.toUpperCase()}-${String(100_000 + i)}`);
  const client = new PgClient({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO orders (tenant_id, order_id, state, items, total_cents, currency, placed_at)
       SELECT 'acme', id, 'placed', '[]'::jsonb, 1000000000, 'USD', now()::text FROM unnest($1::text[]) AS id ON CONFLICT DO NOTHING`,
      [ids],
    );
  } finally {
    await client.end();
  }
  return ids;
}

/** One call of `kind`, to its end; returns its workflow id. Throws when it does not end ok. */
export async function runCall(callers: Callers, kind: CallKind, orderId: string, key: string): Promise<string> {
  const { http, base } = callers.next();
  const args =
    kind === 'lookup' ? { order_id: orderId } : kind === 'refund' ? { order_id: orderId, amount_cents: 1, reason: 'capacity bench' } : { order_id: orderId, reason: 'capacity bench' };
  const tool = kind === 'lookup' ? 'lookup_order' : kind === 'refund' ? 'refund_order' : 'cancel_order';
  const answer = await http.call(tool, args, key);
  if (answer.status === 200) return okWorkflowId(answer.body, kind);
  if (answer.status !== 202) throw new Error(`${tool} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`);
  const callId = answer.body.call_id as string;
  const reader = kind === 'refund' ? http.events(callId, () => undefined, 60_000) : Promise.resolve();
  if (kind === 'approval') {
    const approved = await fetch(`${base}/v1/tool-calls/${encodeURIComponent(callId)}/approval`, {
      method: 'POST',
      headers: { authorization: `Bearer ${callers.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ approved: true }),
    });
    if (approved.status >= 300) throw new Error(`approval answered ${approved.status}: ${await approved.text()}`);
  }
  let final = await http.result(callId, 30_000);
  while (final.status === 200 && final.body?.status !== 'ok' && final.body?.status !== 'error') final = await http.result(callId, 30_000);
  await reader;
  return okWorkflowId(final.body, kind);
}

function okWorkflowId(body: any, kind: CallKind): string {
  if (body?.status !== 'ok') throw new Error(`${kind} call ended ${JSON.stringify(body).slice(0, 300)}`);
  return body.workflow_id as string;
}

/** Runs `count` jobs with at most `concurrency` at once. */
export async function pool<T>(count: number, concurrency: number, job: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      for (let i = next++; i < count; i = next++) results[i] = await job(i);
    }),
  );
  return results;
}
