// Holdline's public API: declare a tool, implement it, start Holdline with it.
// Nothing else of the package is importable; what a user needs is named here.

// Declaring and implementing tools.
export {
  defineTool,
  withConfidence,
  type Confident,
  type FallbackCaller,
  type SideEffect,
  type ToolArgs,
  type ToolBudget,
  type ToolContext,
  type ToolDeclaration,
  type ToolFallback,
  type ToolHandler,
  type ToolOutput,
  type ToolSpec,
} from './contracts/tool-spec';
export { implementTool, type ImplementToolOptions, type ToolImplementation } from './activities';
export { HoldlineError, ToolDefinitionError, ToolFailure } from './contracts/errors';
export { NOTHING_COMMITTED, type RetryPolicy } from './contracts/tool-call';

// What callers get back.
export {
  AcceptedEnvelopeSchema,
  ErrorEnvelopeSchema,
  OkEnvelopeSchema,
  ResultEnvelopeSchema,
  type AcceptedEnvelope,
  type ErrorEnvelope,
  type OkEnvelope,
  type ResultEnvelope,
  type ToolProgress,
} from './contracts/envelope';
export { ERROR_CODES, RETRYABLE_BY_DEFAULT, type ErrorCode } from './contracts/error-codes';

// Running Holdline.
export { startHoldline, type HoldlineOptions, type RunningHoldline } from './runtime/holdline';
export type { Role, Tools, ToolKit, ToolsFactory, ToolsSetup } from './runtime/tool-kit';
export { ConfigError } from './runtime/config';
export { createDevToken, type DevTokenClaims } from './runtime/dev-token';
export { startScriptedModel, type ScriptedModel, type ScriptedModelOptions } from './scripted-model/server';
