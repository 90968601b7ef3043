import { useEffect, useRef, useState } from 'preact/hooks';
import type { ResultEnvelope, ToolProgress } from './types';

type Entry =
  | { id: string; kind: 'user' | 'assistant' | 'system'; text: string }
  | {
      id: string;
      kind: 'card';
      /** The model's call id: what `tool_call.approve` names. */
      callId: string;
      tool: string;
      phase: 'accepted' | 'awaiting_approval' | 'completed' | 'failed' | 'cancelled';
      ack?: string;
      progress?: ToolProgress;
      arguments?: Record<string, unknown>;
      result?: ResultEnvelope;
      decided?: boolean;
    };

type Card = Extract<Entry, { kind: 'card' }>;
type Link = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export const TALK_SESSION_KEY = 'holdline.talk.session';
const RETRIES = 6;

/**
 * A realtime session through /v1/realtime, as a voice client would open one:
 * the user's messages, the assistant's replies, and a card per tool call. A
 * browser cannot set headers on a WebSocket, so the token travels as
 * `?token=`. A dropped connection is resumed with the same session id.
 */
export function TalkPanel({ token }: { token: string }) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [link, setLink] = useState<Link>('idle');
  const [session, setSession] = useState<string | undefined>(() => sessionStorage.getItem(TALK_SESSION_KEY) ?? undefined);
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string>();
  const socket = useRef<WebSocket | undefined>(undefined);
  const sessionRef = useRef(session);
  const wanted = useRef(false);
  const retries = useRef(0);
  const responding = useRef(false);
  const waiting = useRef<string[]>([]);
  const log = useRef<HTMLOListElement>(null);

  const add = (entry: Entry) => setEntries((old) => [...old, entry]);
  const updateCard = (callId: string, change: (card: Card) => Partial<Card>, tool?: string) =>
    setEntries((old) => {
      const index = old.findIndex((entry) => entry.kind === 'card' && entry.callId === callId);
      if (index < 0) return [...old, { id: `card-${callId}`, kind: 'card', callId, tool: tool ?? 'tool', phase: 'accepted', ...change({ id: '', kind: 'card', callId, tool: tool ?? 'tool', phase: 'accepted' }) } as Card];
      const card = old[index] as Card;
      const next = old.slice();
      next[index] = { ...card, ...change(card) } as Card;
      return next;
    });

  const send = (event: object) => socket.current?.send(JSON.stringify(event));
  const speak = (line: string) => {
    responding.current = true;
    send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: line }] } });
    send({ type: 'response.create' });
  };

  const onEvent = (raw: string) => {
    let event: Record<string, any>;
    try {
      event = JSON.parse(raw) as Record<string, any>;
    } catch {
      return;
    }
    switch (event.type) {
      case 'tool_call.session':
        sessionRef.current = event.session_id;
        setSession(event.session_id);
        sessionStorage.setItem(TALK_SESSION_KEY, event.session_id);
        if (event.resumed) add({ id: `resumed-${Date.now()}`, kind: 'system', text: 'Reconnected: the conversation goes on in the same session.' });
        return;
      case 'response.created':
        responding.current = true;
        return;
      case 'response.done': {
        responding.current = false;
        const next = waiting.current.shift();
        if (next) speak(next);
        return;
      }
      case 'response.output_text.done':
        return add({ id: `a-${event.item_id ?? Date.now()}`, kind: 'assistant', text: String(event.text ?? '') });
      case 'tool_call.accepted':
        return updateCard(event.call_id, (card) => ({ tool: event.tool, ack: event.message, phase: card.phase === 'awaiting_approval' ? card.phase : 'accepted' }), event.tool);
      case 'tool_call.progress':
        return updateCard(event.call_id, (card) => ({ progress: event.progress, phase: card.phase === 'awaiting_approval' ? 'accepted' : card.phase }), event.tool);
      case 'tool_call.approval_requested':
        return updateCard(event.call_id, () => ({ phase: 'awaiting_approval', arguments: event.arguments, decided: false }), event.tool);
      case 'tool_call.completed':
      case 'tool_call.failed':
      case 'tool_call.cancelled':
        return updateCard(event.call_id, () => ({ phase: event.type.slice('tool_call.'.length), result: event.result }), event.tool);
      case 'error':
        // A response asked for while one runs is queued by this panel; anything else is worth showing.
        if (event.error?.code === 'conversation_already_has_active_response') return;
        // Holdline is about to close the socket; the panel reconnects to the same session by itself.
        if (event.error?.code === 'model_connection_lost') return add({ id: `e-${Date.now()}`, kind: 'system', text: 'The connection to the model dropped: reconnecting to the same session; running tool calls go on.' });
        return add({ id: `e-${Date.now()}`, kind: 'system', text: `The model reported a problem: ${event.error?.message ?? 'unknown error'}` });
    }
  };

  const connect = () => {
    const url = new URL('/v1/realtime', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', token);
    if (sessionRef.current) url.searchParams.set('session_id', sessionRef.current);
    const ws = new WebSocket(url);
    socket.current = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      retries.current = 0;
      setProblem(undefined);
      setLink('open');
    };
    ws.onmessage = (message) => onEvent(String(message.data));
    ws.onclose = () => {
      if (socket.current !== ws) return;
      responding.current = false;
      if (!wanted.current) return setLink('closed');
      if (!opened && retries.current === 0 && sessionRef.current) {
        // The session may have outlived its resume window: start a new one rather than fail.
        sessionRef.current = undefined;
        sessionStorage.removeItem(TALK_SESSION_KEY);
      }
      if (retries.current >= RETRIES) {
        wanted.current = false;
        setLink('closed');
        setProblem('The conversation could not be reopened: check that Holdline is running and that you are still signed in, then press "Start a conversation".');
        return;
      }
      retries.current += 1;
      setLink('reconnecting');
      setProblem(`The connection dropped: reconnecting (attempt ${retries.current} of ${RETRIES})…`);
      setTimeout(() => wanted.current && connect(), Math.min(4_000, 250 * 2 ** retries.current));
    };
  };

  const start = () => {
    wanted.current = true;
    retries.current = 0;
    setLink('connecting');
    connect();
  };

  const end = () => {
    wanted.current = false;
    socket.current?.close(1000, 'ended by the user');
    socket.current = undefined;
    sessionRef.current = undefined;
    sessionStorage.removeItem(TALK_SESSION_KEY);
    setSession(undefined);
    setLink('closed');
  };

  useEffect(() => () => {
    wanted.current = false;
    socket.current?.close(1000, 'page closed');
  }, []);

  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView?.({ block: 'nearest' });
  }, [entries.length]);

  const submit = (event: Event) => {
    event.preventDefault();
    const line = text.trim();
    if (!line || link !== 'open') return;
    setText('');
    add({ id: `u-${Date.now()}-${Math.random()}`, kind: 'user', text: line });
    if (responding.current) waiting.current.push(line);
    else speak(line);
  };

  const decide = (card: Card, approved: boolean) => {
    send({ type: 'tool_call.approve', call_id: card.callId, approved });
    updateCard(card.callId, () => ({ decided: true }));
  };

  return (
    <section class="panel talk" aria-labelledby="talk-title">
      <header>
        <h2 id="talk-title">Talk to the agent</h2>
        <span class="link-state" role="status">
          {link === 'open' ? `Connected${session ? ` · session ${session}` : ''}` : link === 'connecting' ? 'Connecting…' : link === 'reconnecting' ? 'Reconnecting…' : 'Not connected'}
        </span>
      </header>
      {problem ? (
        <p class={link === 'reconnecting' ? 'notice' : 'error'} role="alert">
          {problem}
        </p>
      ) : null}
      <ol class="conversation" aria-label="Conversation" ref={log}>
        {entries.map((entry) => (entry.kind === 'card' ? <ToolCard key={entry.id} card={entry} onDecide={decide} /> : <li key={entry.id} class={`msg ${entry.kind}`}><span class="who">{entry.kind === 'user' ? 'You' : entry.kind === 'assistant' ? 'Assistant' : 'Holdline'}</span> {entry.text}</li>))}
      </ol>
      {link === 'open' || link === 'reconnecting' ? (
        <form class="say" onSubmit={submit}>
          <label for="say">Message</label>
          <input id="say" value={text} onInput={(e) => setText(e.currentTarget.value)} placeholder="refund order A-1003 for $5" autoComplete="off" />
          <button type="submit" disabled={link !== 'open'}>
            Send
          </button>
          <button type="button" class="secondary" onClick={end}>
            End conversation
          </button>
        </form>
      ) : (
        <button type="button" onClick={start} disabled={link === 'connecting'}>
          Start a conversation
        </button>
      )}
    </section>
  );
}

const PHASE_LABEL: Record<Card['phase'], string> = {
  accepted: 'Working on it',
  awaiting_approval: 'Waiting for your approval',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

function ToolCard({ card, onDecide }: { card: Card; onDecide: (card: Card, approved: boolean) => void }) {
  const label = `${card.tool} call`;
  const pct = card.phase === 'completed' ? 100 : (card.progress?.pct ?? 0);
  return (
    <li class={`card ${card.phase}`} aria-label={label}>
      <div class="card-head">
        <strong>{card.tool}</strong> <span class={`badge ${card.phase}`}>{PHASE_LABEL[card.phase]}</span>
      </div>
      {card.ack ? <p class="ack">{card.ack}</p> : null}
      {card.phase === 'accepted' || (card.phase === 'completed' && card.progress) ? (
        <div class="bar">
          <progress max={100} value={pct} aria-label={`Progress of ${card.tool}`} />
          <span class="pct">{pct}%</span> {card.phase === 'accepted' && card.progress ? <span class="hint">{card.progress.message}</span> : null}
        </div>
      ) : null}
      {card.phase === 'awaiting_approval' ? (
        <div class="approval">
          {card.arguments ? <pre tabIndex={0} role="region" aria-label="Arguments to approve">{JSON.stringify(card.arguments, null, 2)}</pre> : null}
          <div role="group" aria-label={`Decide on ${card.tool}`}>
            <button type="button" class="approve" disabled={card.decided} onClick={() => onDecide(card, true)}>
              Approve
            </button>
            <button type="button" class="deny" disabled={card.decided} onClick={() => onDecide(card, false)}>
              Deny
            </button>
          </div>
        </div>
      ) : null}
      {card.result ? (
        card.result.status === 'ok' ? (
          <pre class="result" tabIndex={0} role="region" aria-label="Result">{JSON.stringify(card.result.data, null, 2)}</pre>
        ) : (
          <p class="error">
            {card.result.message} <span class="mono">({card.result.error_code})</span>
          </p>
        )
      ) : null}
    </li>
  );
}
