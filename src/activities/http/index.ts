// Tools served by HTTP endpoints, declared in the tools file: the entry schema and the source that runs them.
export { createHttpToolSource, type HttpToolSourceOptions } from './source';
export {
  httpToolConfig,
  CANCEL_TEMPLATE_VARIABLES,
  DEFAULT_JOB_POLL_INTERVAL_MS,
  DEFAULT_MAX_RESPONSE_BYTES,
  type HttpToolConfig,
  type HttpToolConfigInput,
} from './config';
