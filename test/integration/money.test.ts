import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { startLocalPostgres, type LocalPostgres } from '../../src/cluster/postgres-server';
import { PostgresOrderStore, type SupportStore } from '../../examples/support-desk';
import { freePort } from '../support/ports';
import { startHarness, freshKey, type Harness } from '../support/harness';
import { readEvents } from '../support/sse';
import { waitFor } from '../support/wait';
import { attemptHistory, historyReader, killWorkerProcess, startWorkerProcess, stopWorkerProcess } from '../support/worker-control';

/**
 * The refund money invariant through the real gateway, Temporal and workers:
 * an order's refunds never add up to more than its total, whatever the keys,
 * concurrency and crashes; a call that moved money ends ok.
 */

describe.each(['SQLite', 'PostgreSQL'])('concurrent refunds of one order under different keys, on %s', (kind) => {
  let h: Harness;
  let store: SupportStore;
  let postgres: LocalPostgres | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    if (kind === 'PostgreSQL') {
      dir = mkdtempSync(join(tmpdir(), 'holdline-money-pg-'));
      chmodSync(dir, 0o755); // PostgreSQL runs as its own user when the tests run as root
      postgres = await startLocalPostgres({ port: await freePort(), dir });
      store = await PostgresOrderStore.open(await postgres.createDatabase('money'));
      h = await startHarness({ refundTimings: { stageMs: 200 }, supportStore: store });
    } else {
      h = await startHarness({ refundTimings: { stageMs: 200 } });
      store = h.store;
    }
  }, 60_000);
  afterAll(async () => {
    await h?.stop();
    if (postgres) {
      await store.close();
      await postgres.stop();
      rmSync(dir!, { recursive: true, force: true });
    }
  });

  it('never add up to more than the total; the extras end in TOOL_FAILED and move no money', async () => {
    const total = (await store.findOrder('acme', 'A-1003'))!.total_cents;
    const amount = Math.round(total * 0.3);
    const keys = Array.from({ length: 10 }, () => freshKey('money'));
    const accepted = await Promise.all(
      keys.map((key) => h.call('refund_order', { order_id: 'A-1003', amount_cents: amount, reason: 'concurrent refunds' }, { key })),
    );
    expect(accepted.map((a) => a.status)).toEqual(keys.map(() => 202));

    const finals = await Promise.all(keys.map((key) => h.get(`/v1/tool-calls/${key}?wait=30000`)));
    const ok = finals.filter((f) => f.body.status === 'ok');
    const failed = finals.filter((f) => f.body.status === 'error');
    expect(ok).toHaveLength(Math.floor(total / amount));
    expect(failed).toHaveLength(keys.length - ok.length);
    for (const f of failed) {
      expect(f.body).toMatchObject({ error_code: 'TOOL_FAILED', details: { type: 'REFUND_EXCEEDS_BALANCE' } });
      expect(await store.countProviderRefunds({ idempotencyKey: f.body.workflow_id })).toBe(0);
    }
    for (const f of ok) expect(await store.countProviderRefunds({ idempotencyKey: f.body.workflow_id })).toBe(1);

    expect(await store.refundAccount('acme', 'A-1003')).toEqual({
      total_cents: total,
      refunded_cents: ok.length * amount,
      reserved_cents: 0,
      provider_cents: ok.length * amount,
      provider_count: ok.length,
      ledger_cents: ok.length * amount,
      ledger_count: ok.length,
    });
  }, 60_000);
});

describe('a worker killed after the provider moved the money, before the ledger row', () => {
  let h: Harness;
  let reader: Awaited<ReturnType<typeof historyReader>>;
  let client: Client;
  const workers: ChildProcess[] = [];
  // Long stages, so the kill lands between the provider's payment and the ledger row.
  const startWorker = async () => {
    const worker = await startWorkerProcess({ taskQueue: h.taskQueue, storePath: h.storePath, refundStageMs: 1_000 });
    workers.push(worker);
    return worker;
  };
  beforeAll(async () => {
    h = await startHarness({ withoutWorker: true });
    reader = await historyReader();
    client = reader.client;
  });
  // Each test owns the task queue's only worker: one left over would run the attempt meant to die.
  afterEach(async () => {
    await Promise.all(workers.splice(0).map(stopWorkerProcess));
  });
  afterAll(async () => {
    await reader.close();
    await h.stop();
  });

  /** Starts a refund on a worker process and SIGKILLs that worker once the money moved; returns the call's key. */
  async function refundThenKillAfterPayment(orderId: string, amount: number): Promise<{ key: string; workflowId: string; events: ReturnType<typeof readEvents> }> {
    const worker = await startWorker();
    const key = freshKey('crash');
    const workflowId = `acme/alice/${key}`;
    const answer = await h.call('refund_order', { order_id: orderId, amount_cents: amount, reason: 'money test' }, { key });
    expect(answer.status).toBe(202);
    const events = readEvents(`${h.url}/v1/tool-calls/${key}/events`, await h.token(), 80_000);
    await waitFor(() => h.store.countProviderRefunds({ idempotencyKey: workflowId }) === 1, 20_000, 'provider refund');
    await killWorkerProcess(worker);
    expect(h.store.findRefund('acme', workflowId)).toBeUndefined();
    return { key, workflowId, events };
  }

  async function expectOneRefund(key: string, workflowId: string, orderId: string, amount: number, before: number) {
    const final = await h.get(`/v1/tool-calls/${key}?wait=40000`);
    expect(final.body).toMatchObject({ status: 'ok', data: { amount_cents: amount } });
    expect(h.store.countProviderRefunds({ idempotencyKey: workflowId })).toBe(1);
    expect(h.store.findRefund('acme', workflowId)).toMatchObject({ amount_cents: amount });
    expect(h.store.findOrder('acme', orderId)!.refunded_cents).toBe(before + amount);
    expect(h.store.refundAccount('acme', orderId)!.reserved_cents).toBe(0);
  }

  // The workflow runs on the worker too: nothing moves on until a worker is back.
  it('still ends ok, with one refund, when the call was cancelled while no worker ran', async () => {
    const before = h.store.findOrder('acme', 'A-1005')!.refunded_cents;
    const { key, workflowId, events } = await refundThenKillAfterPayment('A-1005', 900);

    const cancel = await h.post(`/v1/tool-calls/${key}/cancel`, {});
    expect(cancel.status).toBe(202);
    await waitFor(async () => (await attemptHistory(client, workflowId)).timedOut === 1, 20_000, 'the dead attempt timed out');

    await startWorker();
    await expectOneRefund(key, workflowId, 'A-1005', 900, before);
    // The cancellation reached a call whose attempt died with unknown outcome: a settle attempt recorded the refund.
    expect((await attemptHistory(client, workflowId)).scheduled.map((meta) => meta.settling === true)).toEqual([false, true]);
    const terminal = (await events).filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    expect(terminal.map((e) => e.event)).toEqual(['completed']);
  }, 80_000);

  it('still ends ok, with one refund, when the call is cancelled while the retried attempt records it', async () => {
    const before = h.store.findOrder('acme', 'A-1004')!.refunded_cents;
    const { key, workflowId, events } = await refundThenKillAfterPayment('A-1004', 700);
    await waitFor(async () => (await attemptHistory(client, workflowId)).timedOut === 1, 20_000, 'the dead attempt timed out');

    await startWorker();
    await waitFor(async () => (await attemptHistory(client, workflowId)).scheduled.length === 2, 20_000, 'the retried attempt');
    const cancel = await h.post(`/v1/tool-calls/${key}/cancel`, {});
    // 202 while the retried attempt records the refund; 200 when it finished first (it only has
    // to find the provider's payment and write the ledger row). Either way: one refund, and ok.
    expect([202, 200]).toContain(cancel.status);
    await expectOneRefund(key, workflowId, 'A-1004', 700, before);
    const terminal = (await events).filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    expect(terminal.map((e) => e.event)).toEqual(['completed']);
  }, 80_000);

  it('still ends ok, with one refund, when the budget ran out while no worker ran', async () => {
    const before = h.store.findOrder('acme', 'A-1002')!.refunded_cents;
    const { key, workflowId, events } = await refundThenKillAfterPayment('A-1002', 1_100);

    // refund_order's budget is 30 s from the start of the workflow.
    const { startedAt } = await attemptHistory(client, workflowId);
    await waitFor(() => Date.now() > startedAt + 30_000 + 500, 40_000, "the call's budget spent");

    await startWorker();
    await expectOneRefund(key, workflowId, 'A-1002', 1_100, before);
    expect((await attemptHistory(client, workflowId)).scheduled.map((meta) => meta.settling === true)).toEqual([false, true]);
    const terminal = (await events).filter((e) => ['completed', 'failed', 'cancelled'].includes(e.event));
    expect(terminal.map((e) => e.event)).toEqual(['completed']);
  }, 90_000);
});
