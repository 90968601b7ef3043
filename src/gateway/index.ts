// The tool gateway: what the HTTP API and realtime sessions call into.
export { Gateway, newTraceId, settleWithin, type Caller, type GatewayOptions, type SubmitOutcome, type ToolCallRequest } from './gateway';
export { CallControl, MAX_WAIT_MS, type CallAddress, type CallView, type RunningCallView } from './call-control';
export { APPROVER_SCOPE, OPERATOR_SCOPE } from './scopes';
export { ProgressHub, type CallUpdate, type ProgressSource } from './progress-hub';
export { AUTH_FAILURE_REASONS, TenantId, TokenVerifier, bearerToken, type AuthFailureReason, type Principal, type TokenVerifierOptions } from './auth';
export { importVerificationKeys, KeyConfigError, type VerificationKey, type VerificationKeySpec } from './verification-keys';
export { RemoteKeySet, type RemoteKeySetOptions } from './remote-keys';
export { ToolRegistry, type FunctionTool } from './registry';
export { TenantPolicy, tenantsConfig, ANY_TENANT, type TenantsConfig, type TenantPolicyConfig } from './tenant-policy';
export { TemporalCalls, isBackendFailure, isThrottled, type CallSnapshot } from './temporal-calls';
export { GatewayMetrics } from './metrics';
export { GatewayRejection, HTTP_STATUS } from './rejection';
export { parseWorkflowId, realtimeKeyPrefix, workflowIdOf, type CallOwner } from './idempotency';
export { readCallMemo, type CallMemo } from './call-memo';
export { isShutdown, type CallRef } from './results';
export { inScope, listCalls, openCalls, readScopeOf, MAX_PAGE_SIZE, type CallListRequest, type CallScope, type ListedCall } from './call-list';
export { CallFeed, type FeedListener, type WatchCall } from './call-feed';
export { inSpan, recordSubmitOutcome, SPAN_ATTRIBUTES, SpanKind, type Span } from './tracing';
