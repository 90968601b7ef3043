import type { ResultEnvelope, ToolProgress } from '../contracts/envelope';

/**
 * The words Holdline gives the model about calls that outlive their turn.
 * They carry the envelope as JSON so the model (or a scripted one) reads the
 * structured result, not a paraphrase; the scripted model reads the tool name
 * after the prefix and the JSON after the first "{".
 */
const RESULT_NOTE_PREFIX = 'Tool result';
const PROGRESS_NOTE_PREFIX = 'Tool progress';

export type CancelNote = 'cancelled_without_effect' | 'completed_before_cancel' | undefined;

export function resultNote(tool: string, callId: string, envelope: ResultEnvelope, cancel: CancelNote): string {
  const why =
    cancel === 'cancelled_without_effect'
      ? ' The user interrupted, so it was cancelled before it took effect.'
      : cancel === 'completed_before_cancel'
        ? ' The user interrupted, but it had already completed.'
        : '';
  return `${RESULT_NOTE_PREFIX} for ${tool} (call ${callId}).${why} Tell the user the outcome. ${JSON.stringify({ ...envelope, ...(cancel ? { cancel } : {}) })}`;
}

export function progressNote(tool: string, callId: string, progress: ToolProgress): string {
  return `${PROGRESS_NOTE_PREFIX} for ${tool} (call ${callId}): still working. Tell the user in one short sentence. ${JSON.stringify(progress)}`;
}
