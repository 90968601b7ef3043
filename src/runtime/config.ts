import { z } from 'zod';

/**
 * All configuration, from the environment, parsed once at start-up. A bad
 * value stops the process with a message naming the variable. The README's
 * configuration table lists the same variables.
 */
const port = (fallback: number) => z.coerce.number().int().min(1).max(65_535).default(fallback);
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((value) => (value ? value : undefined));

export const ConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  HOLDLINE_DATA_DIR: z.string().min(1).default('.holdline'),
  HOLDLINE_TOOLS_FILE: optionalText,
  HOLDLINE_JWT_SECRET: optionalText.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  HOLDLINE_JWT_MAX_LIFETIME_S: positiveInt(24 * 3600),
  // Several keys (a JSON list, or a file of one reloaded on SIGHUP), the HS256 one dev tokens are signed with, an identity provider's JWKS.
  HOLDLINE_JWT_KEYS: optionalText,
  HOLDLINE_JWT_SIGNING_KID: optionalText,
  HOLDLINE_JWKS_URL: optionalText.pipe(z.string().url('must be an http:// or https:// URL').regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional()),
  HOLDLINE_JWKS_CACHE_MAX_AGE_S: positiveInt(600),
  HOLDLINE_JWKS_COOLDOWN_S: positiveInt(30),
  HOLDLINE_JWKS_TIMEOUT_MS: positiveInt(2_000),
  // Comma-separated; when set, a token's iss (aud) must be one of them.
  HOLDLINE_JWT_ISSUER: optionalText,
  HOLDLINE_JWT_AUDIENCE: optionalText,
  TEMPORAL_ADDRESS: optionalText.pipe(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port').optional()),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('holdline-tools'),
  TEMPORAL_API_KEY: optionalText,
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_CLI: optionalText,
  // Worker Deployment Versioning: both set, the worker runs as this version and pins each call to it.
  HOLDLINE_DEPLOYMENT_NAME: optionalText,
  HOLDLINE_BUILD_ID: optionalText,
  TEMPORAL_DEV_PORT: port(7233),
  TEMPORAL_UI_PORT: port(8233),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOLDLINE_MAX_ARGUMENT_BYTES: positiveInt(16_384),
  HOLDLINE_SESSION_MAX_IN_FLIGHT: positiveInt(8),
  HOLDLINE_TENANT_RATE_PER_SEC: positiveInt(50),
  HOLDLINE_TENANT_BURST: positiveInt(100),
  HOLDLINE_BACKEND_TIMEOUT_MS: positiveInt(1_000),
  HOLDLINE_BREAKER_COOLDOWN_MS: positiveInt(2_000),
  // Per-tool breakers: consecutive failing calls that open one, how long it stays open, calls of one tool outstanding per server.
  HOLDLINE_TOOL_BREAKER_THRESHOLD: positiveInt(5),
  HOLDLINE_TOOL_BREAKER_COOLDOWN_MS: positiveInt(5_000),
  HOLDLINE_TOOL_MAX_IN_FLIGHT: positiveInt(50),
  HOLDLINE_EXECUTION_MARGIN_MS: positiveInt(30_000),
  // Admission of new calls: an AIMD concurrency limit, a bounded queue in front of it, degradation by priority.
  HOLDLINE_ADMISSION: z.enum(['adaptive', 'off']).default('adaptive'),
  HOLDLINE_ADMISSION_INITIAL_LIMIT: positiveInt(32),
  HOLDLINE_ADMISSION_MIN_LIMIT: positiveInt(4),
  HOLDLINE_ADMISSION_MAX_LIMIT: positiveInt(512),
  HOLDLINE_ADMISSION_LATENCY_MS: positiveInt(100),
  HOLDLINE_ADMISSION_HOLD_MS: positiveInt(1000),
  HOLDLINE_ADMISSION_PRESSED_ACK_MS: z.coerce.number().int().min(0).default(0),
  HOLDLINE_ADMISSION_QUEUE: z.coerce.number().int().min(0).default(64),
  HOLDLINE_ADMISSION_QUEUE_MS: positiveInt(10),
  // Only when progress has no channel (split roles without Redis): how often a watched call is read.
  HOLDLINE_PROGRESS_POLL_MS: positiveInt(1_000),
  // How often a tool reporting progress heartbeats to Temporal at most: how soon it hears of a cancellation, and its cost.
  HOLDLINE_HEARTBEAT_THROTTLE_MS: positiveInt(200),
  // Redis, shared by every server and worker: progress pub/sub and cluster-wide limits.
  HOLDLINE_REDIS_URL: optionalText.pipe(z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional()),
  // PostgreSQL for the example tools' store (SQLite in the data directory otherwise).
  HOLDLINE_DATABASE_URL: optionalText.pipe(z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional()),
  // OpenTelemetry: traces are exported over OTLP/HTTP when this is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.pipe(z.string().regex(/^https?:\/\//, 'must be an http:// or https:// URL').optional()),
  OTEL_SERVICE_NAME: z.string().min(1).default('holdline'),
  OPENAI_API_KEY: optionalText,
  OPENAI_REALTIME_URL: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').default('wss://api.openai.com/v1/realtime'),
  OPENAI_REALTIME_MODEL: z.string().min(1).default('gpt-realtime'),
  HOLDLINE_MODEL_URL: optionalText.pipe(z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').optional()),
  HOLDLINE_SPOKEN_PROGRESS_MS: positiveInt(8_000),
  HOLDLINE_RESUME_WINDOW_MS: positiveInt(120_000),
  HOLDLINE_MAX_FRAME_BYTES: positiveInt(1_048_576),
  HOLDLINE_WS_PING_MS: positiveInt(15_000),
  HOLDLINE_WS_MAX_BUFFERED_BYTES: positiveInt(4_194_304),
  HOLDLINE_MAX_SESSIONS_PER_USER: positiveInt(10),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config extends RawConfig {
  /** True when Holdline starts its own dev server: TEMPORAL_ADDRESS is unset. */
  embeddedTemporal: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(Object.keys(ConfigSchema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const parsed = ConfigSchema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  const config = parsed.data;
  if (config.NODE_ENV === 'production' && !config.HOLDLINE_JWT_SECRET && !config.HOLDLINE_JWT_KEYS && !config.HOLDLINE_JWKS_URL) {
    throw new ConfigError('Invalid configuration:\n  HOLDLINE_JWT_SECRET is required when NODE_ENV=production (or HOLDLINE_JWT_KEYS, or HOLDLINE_JWKS_URL)');
  }
  if (config.HOLDLINE_ADMISSION_MIN_LIMIT > config.HOLDLINE_ADMISSION_MAX_LIMIT) {
    throw new ConfigError('Invalid configuration:\n  HOLDLINE_ADMISSION_MIN_LIMIT must not exceed HOLDLINE_ADMISSION_MAX_LIMIT');
  }
  if (!config.HOLDLINE_DEPLOYMENT_NAME !== !config.HOLDLINE_BUILD_ID) {
    throw new ConfigError('Invalid configuration:\n  HOLDLINE_DEPLOYMENT_NAME and HOLDLINE_BUILD_ID go together: set both to run a versioned worker, or neither');
  }
  return { ...config, embeddedTemporal: !config.TEMPORAL_ADDRESS };
}
