import { checkFrame, frames, runProperty } from './properties';

describe('the realtime frame parser, fed arbitrary frames', () => {
  it('never throws and always answers event, unknown or invalid', async () => {
    const report = await runProperty('frames', frames, checkFrame, { numRuns: 3_000, timeLimitMs: 6_000 }, 'assert');
    expect(report.runs).toBeGreaterThan(500);
  });
});
