// What a worker needs to run tools: the adapter, the example tools and their store.
export { implementTool, activitiesOf, type ToolImplementation } from './tool-adapter';
export { createSupportTools, type SupportToolDeps } from './support';
export { OrderStore } from './store';
