/**
 * Temporal server counters from its Prometheus endpoint: requests by service
 * and method (`service_requests`), persistence operations (`persistence_requests`).
 * Counters only grow, so a call's cost is the difference of two scrapes.
 */
export interface TemporalCounters {
  /** `service_name/operation` → count, for every Temporal service (frontend, history, matching). */
  requests: Map<string, number>;
  /** persistence `operation` → count, summed over the services that issue it. */
  persistence: Map<string, number>;
}

const LINE = /^(service_requests|persistence_requests)(?:_total)?\{([^}]*)\}\s+([0-9.eE+-]+)/;

export async function scrapeTemporal(metricsUrl: string): Promise<TemporalCounters> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${metricsUrl} answered ${response.status}`);
  const counters: TemporalCounters = { requests: new Map(), persistence: new Map() };
  for (const line of (await response.text()).split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    const value = Number(match[3]);
    const operation = labels.operation ?? 'unknown';
    if (match[1] === 'service_requests') add(counters.requests, `${labels.service_name ?? 'unknown'}/${operation}`, value);
    else add(counters.persistence, operation, value);
  }
  return counters;
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

/** after − before − idle background over the window, per key; keys that did not move are dropped. */
export function countersBetween(before: TemporalCounters, after: TemporalCounters, background?: { counters: TemporalCounters; scale: number }): TemporalCounters {
  const diff = (a: Map<string, number>, b: Map<string, number>, idle?: Map<string, number>) => {
    const out = new Map<string, number>();
    for (const [key, value] of b) {
      const delta = value - (a.get(key) ?? 0) - (idle?.get(key) ?? 0) * (background?.scale ?? 0);
      if (delta > 0.5) out.set(key, delta);
    }
    return out;
  };
  return {
    requests: diff(before.requests, after.requests, background?.counters.requests),
    persistence: diff(before.persistence, after.persistence, background?.counters.persistence),
  };
}

/**
 * Persistence operations that write: creating, updating, appending, deleting or
 * completing rows (mutable state, history branches, tasks, visibility records).
 * Everything else (Get*, Read*, List*, Scan*, Count*) reads.
 */
export function isPersistenceWrite(operation: string): boolean {
  return /^(Create|Update|Append|Delete|Complete|RangeComplete|Record|Upsert|Set|ConflictResolve|Put|Insert|Add|Lock|Forkhistory|ForkHistory|Trim|Enqueue|Init)/.test(operation);
}

export function total(map: Map<string, number>, keep: (key: string) => boolean = () => true): number {
  let sum = 0;
  for (const [key, value] of map) if (keep(key)) sum += value;
  return sum;
}
