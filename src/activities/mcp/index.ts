// Tools of MCP servers served as Holdline tools: the tools-file entry of one server, and its tool source.
export { mcpServerConfig, mcpToolConfig, type McpServerConfig, type McpToolConfig } from './config';
export { createMcpToolSource, connectMcpToolSource, MCP_TOOL_GONE, type McpToolSource, type McpToolSourceOptions } from './source';
export { toolPolicyOf, type McpToolInfo, type McpAnnotations } from './catalog';
export { MCP_UNAVAILABLE, MCP_TIMEOUT, MCP_PROTOCOL_ERROR, META_IDEMPOTENCY_KEY, META_TRACE_ID } from './call';
export { MCP_TOOL_ERROR } from './result';
export { DEFAULT_RECONNECT_BACKOFF, type ReconnectBackoff } from './backoff';
