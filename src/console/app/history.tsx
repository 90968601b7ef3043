import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from './api';
import { CallsTable } from './calls-table';
import { STATUS_LABEL } from './format';
import type { CallStatus, CallSummary } from './types';

interface Filters {
  status: string;
  tool: string;
  session: string;
}

const PAGE_SIZE = 100;

/** Calls beyond the live window, from Temporal visibility (GET /v1/tool-calls): filters and paging. */
export function History({ api, tools, onOpen }: { api: Api; tools: string[]; onOpen: (call: CallSummary) => void }) {
  const [filters, setFilters] = useState<Filters>({ status: '', tool: '', session: '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [calls, setCalls] = useState<CallSummary[]>([]);
  const [next, setNext] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();

  const load = async (from: Filters, pageToken?: string) => {
    setLoading(true);
    setError(undefined);
    const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    if (from.status) query.set('status', from.status);
    if (from.tool) query.set('tool', from.tool);
    if (from.session) query.set('session', from.session);
    if (pageToken) query.set('page_token', pageToken);
    try {
      const page = await api.get<{ calls: CallSummary[]; next_page_token?: string }>(`/v1/tool-calls?${query.toString()}`);
      setCalls((old) => (pageToken ? [...old, ...page.calls] : page.calls));
      setNext(page.next_page_token || undefined);
    } catch (failure) {
      setError(failure instanceof ApiError ? `The history could not be loaded. ${failure.message}` : 'The history could not be loaded: try again.');
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(applied);
  }, [applied]);

  const apply = (event: Event) => {
    event.preventDefault();
    setApplied({ ...filters });
  };

  return (
    <section class="panel history" aria-labelledby="history-title">
      <header>
        <h2 id="history-title">History</h2>
        <span role="status" class="hint">
          {loading ? 'Loading…' : `${calls.length} call${calls.length === 1 ? '' : 's'}${next ? ', more available' : ''}`}
        </span>
      </header>
      <form class="filters" onSubmit={apply} aria-label="Filter the history">
        <label>
          Status
          <select value={filters.status} onChange={(e) => setFilters({ ...filters, status: e.currentTarget.value })}>
            <option value="">Any</option>
            {(Object.keys(STATUS_LABEL) as CallStatus[]).map((status) => (
              <option key={status} value={status}>
                {STATUS_LABEL[status]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Tool
          <select value={filters.tool} onChange={(e) => setFilters({ ...filters, tool: e.currentTarget.value })}>
            <option value="">Any</option>
            {tools.map((tool) => (
              <option key={tool} value={tool}>
                {tool}
              </option>
            ))}
          </select>
        </label>
        <label>
          Session
          <input value={filters.session} onInput={(e) => setFilters({ ...filters, session: e.currentTarget.value.trim() })} placeholder="session id" />
        </label>
        <button type="submit">Apply filters and refresh</button>
      </form>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <CallsTable calls={calls} caption="Call history" onOpen={onOpen} empty={loading ? 'Loading…' : 'No calls match these filters.'} />
      {next ? (
        <button type="button" disabled={loading} onClick={() => void load(applied, next)}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
