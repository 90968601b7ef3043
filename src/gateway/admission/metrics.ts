import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ShedReason } from './gate';
import { MODE_LEVEL, type DegradationMode } from './modes';

export interface AdmissionState {
  limit: number;
  inFlight: number;
  queued: number;
  mode: DegradationMode;
}

/** Admission's metrics, on the gateway's registry; the gauges are read when scraped, never on a call's path. */
export class AdmissionMetrics {
  readonly shed: Counter<'tool' | 'reason'>;
  readonly wait: Histogram;

  constructor(registry: Registry, state: () => AdmissionState) {
    const registers = [registry];
    new Gauge({ name: 'holdline_admission_limit', help: 'The adaptive concurrency limit on new calls now', registers, collect() { this.set(state().limit); } });
    new Gauge({ name: 'holdline_admission_in_flight', help: 'Admitted calls holding a permit: until their result, an acked call for the hold at most', registers, collect() { this.set(state().inFlight); } });
    new Gauge({ name: 'holdline_admission_queue_length', help: 'New calls waiting for admission', registers, collect() { this.set(state().queued); } });
    new Gauge({
      name: 'holdline_degradation_mode',
      help: 'Degradation mode: 0 normal, 1 degraded (low-priority new calls shed), 2 shedding (normal ones too)',
      registers,
      collect() { this.set(MODE_LEVEL[state().mode]); },
    });
    this.wait = new Histogram({
      name: 'holdline_admission_wait_seconds',
      help: 'Time a call waited in the admission queue (0 when admitted at once)',
      buckets: [0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.1, 0.25],
      registers,
    });
    this.shed = new Counter({ name: 'holdline_shed_total', help: 'New calls not admitted, by tool and reason (queue_full, queue_timeout, priority)', labelNames: ['tool', 'reason'] as const, registers });
    // Each reason starts at 0, so a rate() alert sees the first shed.
    for (const reason of ['queue_full', 'queue_timeout', 'priority'] satisfies ShedReason[]) this.shed.inc({ tool: '', reason }, 0);
  }
}
