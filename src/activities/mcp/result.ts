import { ToolFailure } from '../../contracts/errors';
import { withConfidence } from '../../contracts/tool-spec';
import { boundedText, oneLine } from './text';

/** The `ToolFailure` type of a result the server marked `isError`: the tool ran and refused; retrying will not help. */
export const MCP_TOOL_ERROR = 'MCP_TOOL_ERROR';

/** The longest text result kept as data; longer text is cut and marked `truncated`. */
export const MAX_TEXT_CHARS = 100_000;
const MAX_ERROR_CHARS = 500;

/** The part of an MCP `tools/call` result Holdline reads. */
export interface McpCallResult {
  content?: readonly unknown[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

export interface ResultContext {
  server: string;
  /** The name the model sees. */
  tool: string;
  confidenceField?: string;
  /** Told when the configured confidence field holds no number between 0 and 1. */
  onBadConfidence?: (value: unknown) => void;
}

/**
 * The data of a successful `tools/call`:
 * - `structuredContent`, when the server gives it (it must, when the tool has
 *   an output schema), as it is;
 * - otherwise `{ text }`: the text blocks joined by newlines, never parsed
 *   (text is what the server meant the model to read), at most
 *   {@link MAX_TEXT_CHARS} (`truncated: true` when cut). Images, audio and
 *   resources are not carried; `omitted` counts them.
 * With `confidenceField` set and structured content holding a number from 0
 * to 1 there, the envelope carries it as `confidence`.
 *
 * An `isError` result throws a non-retryable `ToolFailure` (`MCP_TOOL_ERROR`)
 * whose message is the server's text, one line, bounded.
 */
export function outputOf(result: McpCallResult, context: ResultContext): unknown {
  if (result.isError) {
    const said = oneLine(textOf(result.content), MAX_ERROR_CHARS);
    throw new ToolFailure(MCP_TOOL_ERROR, said || `The tool ${context.tool} reported an error without saying which`, { retryable: false });
  }
  if (result.structuredContent !== undefined) {
    const data = result.structuredContent;
    if (context.confidenceField === undefined || !(context.confidenceField in data)) return data;
    const confidence = data[context.confidenceField];
    if (typeof confidence === 'number' && confidence >= 0 && confidence <= 1) return withConfidence(data, confidence);
    context.onBadConfidence?.(confidence);
    return data;
  }
  const { text, truncated } = boundedText(textOf(result.content), MAX_TEXT_CHARS);
  const omitted = (result.content ?? []).filter((block) => !isText(block)).length;
  return { text, ...(truncated ? { truncated } : {}), ...(omitted > 0 ? { omitted } : {}) };
}

function textOf(content: readonly unknown[] | undefined): string {
  return (content ?? [])
    .filter(isText)
    .map((block) => block.text)
    .join('\n');
}

function isText(block: unknown): block is { type: 'text'; text: string } {
  return typeof block === 'object' && block !== null && (block as { type?: unknown }).type === 'text' && typeof (block as { text?: unknown }).text === 'string';
}
