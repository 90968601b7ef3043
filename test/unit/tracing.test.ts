import { trace } from '@opentelemetry/api';
import pino from 'pino';
import { startTracing, workflowSpanSinks } from '../../src/runtime/tracing';

const logger = pino({ level: 'silent' });
// Nothing listens here; no span is ended while registered, so nothing is ever sent.
const config = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/', OTEL_SERVICE_NAME: 'holdline-unit' };
const recording = () => {
  const span = trace.getTracer('test').startSpan('probe');
  return span.isRecording();
};

describe('startTracing', () => {
  it('registers nothing when OTEL_EXPORTER_OTLP_ENDPOINT is unset: spans are the no-op kind', () => {
    expect(startTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_SERVICE_NAME: 'holdline' }, logger)).toBeUndefined();
    expect(recording()).toBe(false);
  });

  it('registers one provider per process, shared by every start, and unregisters it after the last shutdown', async () => {
    const first = startTracing(config, logger)!;
    const second = startTracing(config, logger)!;
    expect(second.processor).toBe(first.processor);
    expect(recording()).toBe(true);
    await first.shutdown();
    expect(recording()).toBe(true);
    await second.shutdown();
    expect(recording()).toBe(false);

    // A later start registers afresh.
    const again = startTracing(config, logger)!;
    expect(recording()).toBe(true);
    await again.shutdown();
    expect(recording()).toBe(false);
  });

  it('gives an untraced worker a sink that drops the spans of the bundled workflow interceptors', () => {
    const sinks = workflowSpanSinks(undefined);
    expect(() => sinks.exporter.export.fn({} as never, [])).not.toThrow();
  });
});
