import { backoffDelay, DEFAULT_BACKOFF } from '../../src/runtime/backoff';

const noJitter = () => 0;
const fullJitter = () => 0.999_999;

describe('backoffDelay', () => {
  it('doubles from 250 ms after each failure and stops growing at 10 s', () => {
    const schedule = Array.from({ length: 10 }, (_, i) => backoffDelay(i + 1, DEFAULT_BACKOFF, noJitter));
    expect(schedule).toEqual([250, 500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000, 10_000]);
  });

  it('shortens each delay by at most the jitter fraction, so no delay passes the cap', () => {
    for (let failures = 1; failures <= 40; failures++) {
      const longest = backoffDelay(failures, DEFAULT_BACKOFF, noJitter);
      const shortest = backoffDelay(failures, DEFAULT_BACKOFF, fullJitter);
      expect(shortest).toBeGreaterThanOrEqual(Math.floor(longest * (1 - DEFAULT_BACKOFF.jitter)));
      expect(shortest).toBeLessThan(longest);
      expect(backoffDelay(failures)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    }
  });

  it('spreads retries of many workers that failed together', () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(5)));
    expect(delays.size).toBeGreaterThan(10);
  });

  it('stays at the cap however many failures there were', () => {
    expect(backoffDelay(10_000, DEFAULT_BACKOFF, noJitter)).toBe(10_000);
    expect(backoffDelay(0, DEFAULT_BACKOFF, noJitter)).toBe(250);
  });
});
