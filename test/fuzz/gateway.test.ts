import { startHarness, type Harness } from '../support/harness';
import { callCases, checkHttp, checkResponsive, checkSubmit, closeAgent, httpCases, prepareGatewayFuzz, runProperty, type GatewayFuzz } from './properties';

/** The harness's argument limit (test/support/harness.ts). */
const MAX_ARGUMENT_BYTES = 4_096;

let h: Harness;
let fuzz: GatewayFuzz;
beforeAll(async () => {
  h = await startHarness();
  fuzz = await prepareGatewayFuzz(h, MAX_ARGUMENT_BYTES);
});
afterAll(async () => {
  fuzz.restore();
  closeAgent();
  await h.stop();
});

describe('the gateway, fed arbitrary and hostile calls, keys, tokens and conversation ids', () => {
  it('in process: never fails inside, starts only valid and authorized calls as their caller, and answers with envelopes', async () => {
    const report = await runProperty('submit', callCases(fuzz), (c) => checkSubmit(fuzz, c), { numRuns: 400, timeLimitMs: 8_000 }, 'assert');
    expect(report.runs).toBeGreaterThan(50);
    await checkResponsive(h.url);
  }, 30_000);

  it('over HTTP: never a 500, starts only valid and authorized calls, answers with envelopes, and strangers get 401 with no detail', async () => {
    const report = await runProperty('http', httpCases(fuzz), (c) => checkHttp(fuzz, c), { numRuns: 400, timeLimitMs: 8_000 }, 'assert');
    expect(report.runs).toBeGreaterThan(50);
    await checkResponsive(h.url);
  }, 30_000);

  it('started some calls, so the properties above were not vacuous', () => {
    expect(fuzz.starts.length).toBeGreaterThan(0);
  });
});
