import { RetryLogThrottle } from '../../src/runtime/temporal';

const retry = { target: 'temporalio_client::retry' };

describe('RetryLogThrottle', () => {
  it('shows one retry line per call per interval, then counts the ones it left out', () => {
    let now = 0;
    const throttle = new RetryLogThrottle(10_000, () => now);
    expect(throttle.admit('gRPC call poll_workflow_task_queue retried 6 times', retry)).toBe(0);
    expect(throttle.admit('gRPC call poll_activity_task_queue retried 6 times', retry)).toBe(0);
    now = 500;
    expect(throttle.admit('gRPC call poll_workflow_task_queue retried 7 times', retry)).toBe(false);
    expect(throttle.admit('gRPC call poll_workflow_task_queue retried 8 times', retry)).toBe(false);
    now = 10_000;
    expect(throttle.admit('gRPC call poll_workflow_task_queue retried 9 times', retry)).toBe(2);
    expect(throttle.admit('gRPC call poll_activity_task_queue retried 9 times', retry)).toBe(0);
  });

  it('lets every other SDK line through', () => {
    const throttle = new RetryLogThrottle(10_000, () => 0);
    for (let i = 0; i < 3; i++) expect(throttle.admit('Worker failed', { target: 'temporal_sdk_core::worker' })).toBe(0);
    expect(throttle.admit('Worker failed', undefined)).toBe(0);
  });
});
