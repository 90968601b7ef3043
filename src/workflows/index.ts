// The workflow bundle's entry point: every workflow the worker registers.
export { toolCallWorkflow } from './tool-call';
export { providerCallClaimWorkflow, sessionLedgerWorkflow } from './session-ledger';
