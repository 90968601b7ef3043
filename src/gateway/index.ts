// The tool gateway: what the HTTP API and realtime sessions call into.
export { Gateway, newTraceId, type Caller, type CallRef, type GatewayOptions, type SubmitOutcome, type ToolCallRequest, type ToolFallback } from './gateway';
export { CallControl, MAX_WAIT_MS, type CallView, type RunningCallView } from './call-control';
export { ProgressHub, type CallUpdate } from './progress-hub';
export { TokenVerifier, bearerToken, type Principal } from './auth';
export { ToolRegistry, type FunctionTool } from './registry';
export { TemporalCalls, isBackendFailure } from './temporal-calls';
export { GatewayMetrics } from './metrics';
export { GatewayRejection, HTTP_STATUS } from './rejection';
export { parseWorkflowId, realtimeKeyPrefix, workflowIdOf, type CallOwner } from './idempotency';
