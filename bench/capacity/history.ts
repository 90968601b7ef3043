import type { WorkflowClient } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;

/**
 * Temporal Cloud actions a call's history shows, by the rules of
 * docs.temporal.io/cloud/actions (read for this bench):
 * - workflow started: 1; child workflow initiated: 2;
 * - activity scheduled: 1, and each retry (ActivityTaskStarted.attempt − 1): 1;
 * - local activities: 1 per workflow task that recorded any (their markers
 *   grouped by the workflow task that completed them), plus the non-first
 *   attempts in that task's metering metadata;
 * - timer started, signal received, update accepted, search attribute upsert
 *   (except one that only sets TemporalChangeVersion), workflow options updated: 1 each.
 * Heartbeats and queries that reach the server are actions too but leave no
 * event; the bench counts them from the frontend's request counter.
 */
export interface HistoryCost {
  events: number;
  /** Actions derived from the history, by rule. */
  actions: Record<string, number>;
  /** Event type → count, for the report's footnotes. */
  eventTypes: Record<string, number>;
}

export async function historyCost(client: WorkflowClient, workflowId: string): Promise<HistoryCost> {
  const history = await client.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const actions: Record<string, number> = {};
  const eventTypes: Record<string, number> = {};
  const bump = (map: Record<string, number>, key: string, n = 1) => (map[key] = (map[key] ?? 0) + n);
  const localActivityTasks = new Set<string>();
  for (const event of events) {
    const type = EventType[event.eventType ?? 0] ?? String(event.eventType);
    bump(eventTypes, type.replace(/^EVENT_TYPE_/, ''));
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        bump(actions, 'workflow started');
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        bump(actions, 'child workflow', 2);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        bump(actions, 'activity started');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const retries = (event.activityTaskStartedEventAttributes?.attempt ?? 1) - 1;
        if (retries > 0) bump(actions, 'activity retried', retries);
        break;
      }
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const marker = event.markerRecordedEventAttributes;
        if (marker?.markerName === 'core_local_activity') localActivityTasks.add(String(marker.workflowTaskCompletedEventId));
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
        const retries = event.workflowTaskCompletedEventAttributes?.meteringMetadata?.nonfirstLocalActivityExecutionAttempts ?? 0;
        if (retries > 0) bump(actions, 'local activity retried', retries);
        break;
      }
      case EventType.EVENT_TYPE_TIMER_STARTED:
        bump(actions, 'timer started');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        bump(actions, 'signal');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        bump(actions, 'update accepted');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
        bump(actions, 'options updated');
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {});
        if (fields.some((name) => name !== 'TemporalChangeVersion')) bump(actions, 'search attribute upsert');
        break;
      }
      default:
        break;
    }
  }
  if (localActivityTasks.size > 0) bump(actions, 'local activity', localActivityTasks.size);
  return { events: events.length, actions, eventTypes };
}
