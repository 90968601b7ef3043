import { useEffect, useMemo, useState } from 'preact/hooks';
import { Api, ApiError, identityOf } from './api';
import { CallDetail } from './call-detail';
import { CallsTable } from './calls-table';
import { History } from './history';
import { LiveCalls, type LiveStats } from './live';
import { SignIn } from './sign-in';
import { TALK_SESSION_KEY, TalkPanel } from './talk';
import type { CallStreamEvent, CallSummary, ServerInfo } from './types';

const TOKEN_KEY = 'holdline.token';

declare global {
  interface Window {
    /** Read by the browser tests: how live updates were batched and rendered. */
    holdlineConsole?: { stats: LiveStats; liveRenders: number };
  }
}

export function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [notice, setNotice] = useState<string>();

  const signIn = (next: string) => {
    sessionStorage.setItem(TOKEN_KEY, next);
    setNotice(undefined);
    setToken(next);
  };
  const signOut = (why?: string) => {
    sessionStorage.removeItem(TOKEN_KEY);
    // The conversation belonged to the user signing out.
    sessionStorage.removeItem(TALK_SESSION_KEY);
    setNotice(why);
    setToken(null);
  };

  if (!token) return <SignIn onToken={signIn} notice={notice} />;
  return <Console key={token} token={token} onSignOut={signOut} />;
}

function Console({ token, onSignOut }: { token: string; onSignOut: (why?: string) => void }) {
  const me = useMemo(() => identityOf(token), [token]);
  const api = useMemo(() => new Api(token, () => onSignOut('Your sign-in was refused by the server (the token expired or is no longer valid): sign in again.')), [token]);
  const live = useMemo(() => new LiveCalls(), [token]);
  const [info, setInfo] = useState<ServerInfo>();
  const [tools, setTools] = useState<string[]>([]);
  const [selected, setSelected] = useState<CallSummary>();
  const [streamProblem, setStreamProblem] = useState<string>();

  useEffect(() => {
    api.get<ServerInfo>('/v1/info').then(setInfo, () => setInfo(undefined));
    api.get<{ tools: { name: string }[] }>('/v1/tools').then(
      (catalog) => setTools(catalog.tools.map((tool) => tool.name).sort()),
      () => setTools([]),
    );
  }, [api]);

  // The live feed: GET /v1/events, reopened after a drop (a fresh snapshot replaces the running calls).
  useEffect(() => {
    const stop = new AbortController();
    const run = async () => {
      for (let failures = 0; !stop.signal.aborted; ) {
        try {
          await api.stream(
            '/v1/events',
            (message) => {
              failures = 0;
              setStreamProblem(undefined);
              live.push(JSON.parse(message.data) as CallStreamEvent);
            },
            stop.signal,
          );
          if (stop.signal.aborted) return;
          setStreamProblem('The live feed ended: reconnecting…');
        } catch (failure) {
          if (failure instanceof ApiError && failure.status === 401) return;
          setStreamProblem(failure instanceof ApiError ? `Live calls are not updating. ${failure.message}` : 'Live calls are not updating: reconnecting…');
        }
        failures += 1;
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** Math.min(failures, 5))));
      }
    };
    void run();
    return () => stop.abort();
  }, [api, live]);

  const open = (call: CallSummary) => setSelected(call);
  const current = selected ? (live.calls.get(selected.workflow_id) ?? selected) : undefined;

  return (
    <div class="console">
      <header class="top">
        <h1>Holdline console</h1>
        <span class="who">
          {me ? (
            <>
              Signed in as <strong>{me.user}</strong> of <strong>{me.tenant}</strong>
            </>
          ) : (
            'Signed in'
          )}
        </span>
        <button type="button" class="secondary" onClick={() => onSignOut()}>
          Sign out
        </button>
      </header>
      <main>
        <TalkPanel token={token} />
        <div class="calls">
          <LivePanel live={live} onOpen={open} problem={streamProblem} />
          <History api={api} tools={tools} onOpen={open} />
        </div>
      </main>
      {current ? <CallDetail key={current.workflow_id} api={api} me={me} info={info} call={current} seen={live.progressOf(current.workflow_id)} onClose={() => setSelected(undefined)} /> : null}
    </div>
  );
}

function LivePanel({ live, onOpen, problem }: { live: LiveCalls; onOpen: (call: CallSummary) => void; problem: string | undefined }) {
  const [, setVersion] = useState(live.version);
  useEffect(() => {
    window.holdlineConsole = { stats: live.stats, liveRenders: 0 };
    return live.subscribe(() => setVersion(live.version));
  }, [live]);
  if (window.holdlineConsole) window.holdlineConsole.liveRenders += 1;
  const calls = live.sorted();
  const running = calls.filter((call) => call.status === 'running').length;
  const awaiting = calls.filter((call) => call.status === 'awaiting_approval').length;
  return (
    <section class="panel live" aria-labelledby="live-title">
      <header>
        <h2 id="live-title">Live calls</h2>
        <span class="hint" role="status">
          {running} running{awaiting ? `, ${awaiting} awaiting approval` : ''}
        </span>
      </header>
      {problem ? (
        <p class="notice" role="alert">
          {problem}
        </p>
      ) : null}
      <CallsTable calls={calls} caption="Live calls" onOpen={onOpen} empty="No calls right now. Start one from the conversation, or with the API." />
    </section>
  );
}
