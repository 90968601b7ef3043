import { realtimeKeyPrefix, workflowIdOf } from '../../src/gateway';
import { connectRealtime, type RealtimeTestClient } from '../../test/support/realtime-client';
import { waitFor } from '../../test/support/wait';
import type { Envelope, ObservedCall } from './calls';
import { TENANT, type Cluster } from './cluster';

const TERMINAL = ['tool_call.completed', 'tool_call.failed', 'tool_call.cancelled'];

/**
 * A realtime session as the chaos run drives it: the user asks the scripted
 * model for a refund, the model makes the function call, and the result must
 * reach the client exactly once, across however many connections the
 * session had (a resume after a server restart opens a second one).
 */
export class ChaosSession {
  /** Every connection of the session, oldest first. */
  readonly connections: RealtimeTestClient[] = [];

  private constructor(
    private readonly cluster: Cluster,
    readonly user: string,
    readonly token: string,
    readonly sessionId: string,
  ) {}

  static async open(cluster: Cluster, user: string): Promise<ChaosSession> {
    const token = await cluster.token(user);
    const client = await connectRealtime(cluster.apiUrl, { token });
    const { session_id: sessionId } = await client.next((e) => e.type === 'tool_call.session', 'session');
    await client.next((e) => e.type === 'session.updated', 'session.updated');
    const session = new ChaosSession(cluster, user, token, String(sessionId));
    session.connections.push(client);
    return session;
  }

  get current(): RealtimeTestClient {
    return this.connections.at(-1)!;
  }

  /** Says the refund; resolves with the model's call id once the model has made the function call. */
  async askRefund(orderId: string, cents: number): Promise<string> {
    const before = this.current.events.length;
    this.current.say(`refund order ${orderId} for $${(cents / 100).toFixed(2)}`);
    const call = await this.current.next(
      (e) => e.type === 'response.function_call_arguments.done' && this.current.events.indexOf(e) >= before,
      'the function call',
      20_000,
    );
    return String(call.call_id);
  }

  /** The workflow id Holdline gives a realtime call of this session. */
  workflowIdOf(modelCallId: string): string {
    return workflowIdOf({ tenantId: TENANT, userId: this.user }, realtimeKeyPrefix(this.sessionId) + modelCallId);
  }

  /** Opens a new connection that resumes the session; the failure, if any, as a message. */
  async resume(): Promise<string | undefined> {
    try {
      const client = await connectRealtime(this.cluster.apiUrl, { token: this.token, query: { session_id: this.sessionId } });
      this.connections.push(client);
      const session = await client.next((e) => e.type === 'tool_call.session', 'session');
      return session.resumed ? undefined : `resume: session ${this.sessionId} came back as a new session`;
    } catch (error) {
      const logged = this.cluster.server.recentErrors();
      return `resume: session ${this.sessionId} could not be resumed: ${(error as Error).message}${logged.length ? `; server logged: ${logged.join(' | ')}` : ''}`;
    }
  }

  private terminals(modelCallId: string): Record<string, any>[] {
    return this.connections.flatMap((c) => c.events).filter((e) => TERMINAL.includes(e.type) && e.call_id === modelCallId);
  }

  /**
   * Waits for the call's result, then for a barrier (a lookup asked and
   * answered after it), so a result announced twice shows up; records both
   * on `call`.
   */
  async settle(call: ObservedCall, modelCallId: string, timeoutMs: number): Promise<void> {
    await waitFor(() => this.terminals(modelCallId).length > 0, timeoutMs, 'the result').catch(() => call.notes.push(`no terminal event within ${timeoutMs / 1000} s`));
    if (this.current.socket.readyState === this.current.socket.OPEN) {
      await this.barrier().catch((error: Error) => call.notes.push(`the session did not answer a lookup afterwards: ${error.message}`));
    }
    const terminals = this.terminals(modelCallId);
    call.streamTerminals = terminals.map((e) => String(e.type).slice('tool_call.'.length));
    const result = terminals[0]?.result as Envelope | undefined;
    if (result) call.final = result;
  }

  private async barrier(): Promise<void> {
    const client = this.current;
    const before = client.events.length;
    client.say('look up order A-1001');
    const done = await client.next((e) => TERMINAL.includes(e.type) && e.tool === 'lookup_order' && client.events.indexOf(e) >= before, 'lookup result', 20_000);
    const after = client.events.indexOf(done);
    await client.next((e) => e.type === 'response.done' && client.events.indexOf(e) > after, 'response.done after the lookup', 20_000);
  }

  async close(): Promise<void> {
    for (const c of this.connections) await c.close();
  }
}
