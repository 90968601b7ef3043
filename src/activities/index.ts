// What a worker needs to run tools written in code: the adapter that turns a handler into an activity.
export { progressPublishing, PROGRESS_PUBLISH_EVERY_MS } from './progress';
export { implementTool, activitiesOf, type ImplementToolOptions, type ToolImplementation } from './tool-adapter';
