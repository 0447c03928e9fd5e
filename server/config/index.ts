import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { z } from 'zod'

/**
 * The typed, validated configuration. Read from process.env once per process (never at build
 * time); every later call returns the same frozen object.
 */
export type Config = ReturnType<typeof parseConfig>

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def)
const url = (def: string) => z.string().url().default(def).transform(u => u.replace(/\/+$/, ''))
const bool = (def: boolean) => z.enum(['true', 'false', '1', '0']).transform(v => v === 'true' || v === '1').default(def)

/**
 * An origin as a browser sends it in `Origin` (scheme://host[:port], lower-case, no default
 * port), or null when `entry` is not one: no path (not even `/`), query, fragment or user info.
 */
function browserOrigin(entry: string): string | null {
  if (!/^https?:\/\/[^/?#@\s]+$/i.test(entry)) return null
  try {
    return new URL(entry).origin
  }
  catch {
    return null
  }
}

// Browser origins allowed to call the client routes (docs/security.md "Browsers"): `*`, or a
// comma-separated list normalized as browsers send them, so the middleware needs only a Set lookup.
const corsOrigins = z.string().transform((value, ctx) => {
  const entries = value.split(',').map(e => e.trim()).filter(Boolean)
  if (entries.length === 1 && entries[0] === '*') return '*' as const
  const origins = new Set<string>()
  for (const entry of entries) {
    const origin = browserOrigin(entry)
    if (origin) origins.add(origin)
    else ctx.addIssue({ code: 'custom', message: `has ${JSON.stringify(entry.slice(0, 100))}: each entry must be an origin like https://app.example.com or http://localhost:5173 (scheme://host[:port], no path), or the whole value \`*\`` })
  }
  return origins
}).optional()

const EnvSchema = z.object({
  PORT: int(3000, 1),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().optional(),
  REDIS_HOST: z.string().default('127.0.0.1'),
  REDIS_PORT: int(6379, 1),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_DB: int(0),
  REDIS_KEY_PREFIX: z.string().default(''),
  // High availability: Sentinel addresses (`host:port,host:port`) and the monitored master's name.
  REDIS_SENTINELS: z.string().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/, { error: 'must be host:port pairs separated by commas' }).optional(),
  REDIS_SENTINEL_NAME: z.string().default('mymaster'),
  REDIS_SENTINEL_PASSWORD: z.string().optional(),
  JWT_SECRET: z.string({ error: 'is required (run `npm run setup` to generate one)' })
    .min(32, { error: i => `must be at least 32 characters (got ${String(i.input).length})` }),
  ENCRYPTION_KEY: z.string({ error: 'is required (run `npm run setup` to generate one)' })
    // AES-256 needs 32 bytes: count UTF-8 bytes, which equals characters for the ASCII keys setup generates.
    .refine(v => Buffer.byteLength(v, 'utf8') === 32, { error: i => `must be exactly 32 characters (got ${Buffer.byteLength(String(i.input), 'utf8')} bytes)` }),
  API_KEY_SALT: z.string({ error: 'is required (run `npm run setup` to generate one)' })
    .min(16, { error: i => `must be at least 16 characters (got ${String(i.input).length})` }),
  ADMIN_USERNAME: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(8, { error: 'must be at least 8 characters' }).optional(),
  ADMIN_SESSION_HOURS: int(24, 1),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  LOG_DIR: z.string().default('./logs'),
  LOG_RETENTION_DAYS: int(14, 0),
  LOG_FILES: z.enum(['0', '1']).default('1'),
  CLAUDE_API_URL: url('https://api.anthropic.com'),
  CLAUDE_OAUTH_AUTHORIZE_URL: url('https://claude.ai/oauth/authorize'),
  CLAUDE_OAUTH_TOKEN_URL: url('https://platform.claude.com/v1/oauth/token'),
  CLAUDE_OAUTH_CLIENT_ID: z.string().default('9d1c250a-e61b-44d9-88ed-5944d1962f5e'),
  CLAUDE_OAUTH_REDIRECT_URI: url('https://platform.claude.com/oauth/code/callback'),
  CLAUDE_OAUTH_SCOPES: z.string().default('org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload'),
  GEMINI_API_URL: url('https://generativelanguage.googleapis.com'),
  GEMINI_CODE_ASSIST_URL: url('https://cloudcode-pa.googleapis.com'),
  GOOGLE_OAUTH_AUTHORIZE_URL: url('https://accounts.google.com/o/oauth2/v2/auth'),
  GOOGLE_OAUTH_TOKEN_URL: url('https://oauth2.googleapis.com/token'),
  // Gemini CLI's public installed-app client (not a secret: it ships in Gemini CLI's source).
  GEMINI_OAUTH_CLIENT_ID: z.string().default('681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com'),
  GEMINI_OAUTH_CLIENT_SECRET: z.string().default('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'),
  GEMINI_OAUTH_REDIRECT_URI: url('https://codeassist.google.com/authcode'),
  REQUEST_MAX_SIZE_MB: z.coerce.number().positive().default(50),
  PROXY_TIMEOUT: int(600_000, 1),
  MAX_RETRIES: int(3, 0),
  API_KEY_CACHE_SECONDS: int(30, 0),
  ACCOUNT_OVERLOAD_MINUTES: int(5, 0),
  ACCOUNT_COOLDOWN_SECONDS: int(30, 0),
  ACCOUNT_RATE_LIMIT_SECONDS: int(60, 1),
  OAUTH_REFRESH_AHEAD_MINUTES: int(10, 0),
  STICKY_SESSION_TTL_SECONDS: int(3600, 0),
  // Window-aware scheduling of subscription accounts (docs/subscription-headroom.md).
  ACCOUNT_SCHEDULING: z.enum(['headroom', 'lru'], { error: 'must be headroom (pace accounts by their subscription windows) or lru (least recently used)' }).default('headroom'),
  ACCOUNT_HEADROOM_LIMIT: z.coerce.number().min(0.5).max(1).default(0.95),
  // Cache-aware failover: a conversation with a cached prefix of at least CACHE_WAIT_MIN_TOKENS waits
  // up to CACHE_WAIT_MAX_SECONDS for its account's limit to lift instead of rebuilding the cache elsewhere (0 = never).
  CACHE_WAIT_MAX_SECONDS: z.coerce.number().min(0).max(60).default(5),
  CACHE_WAIT_MIN_TOKENS: int(8192, 1),
  OAUTH_REFRESH_INTERVAL_SECONDS: int(60, 0),
  // Subscription headroom (docs/subscription-headroom.md): Anthropic's OAuth usage endpoint, polled this often (0 = off).
  CLAUDE_USAGE_URL: z.string().url().refine(u => /^https?:\/\//.test(u), 'must be an http(s) URL').optional(),
  CLAUDE_USAGE_POLL_SECONDS: int(300, 0),
  POOL_WARM_CONNECTIONS: int(3, 0),
  POOL_MAX_CONNECTIONS: int(4096, 1),
  POOL_IDLE_SECONDS: int(60, 1),
  POOL_MAX_AGE_MINUTES: int(30, 1),
  POOL_HEALTH_CHECK_SECONDS: int(300, 0),
  POOL_SAMPLE_SECONDS: int(30, 0),
  POOL_RECONNECT_MAX_SECONDS: int(16, 1),
  // HTTP/2 to https upstreams that offer it (ALPN), streams multiplexed on a few connections (docs/operations.md).
  UPSTREAM_HTTP2: z.enum(['auto', 'off'], { error: 'must be auto (HTTP/2 to upstreams that offer it) or off (HTTP/1.1 only)' }).default('auto'),
  UPSTREAM_CA_FILE: z.string().optional(),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  // Faults (docs/operations.md): how long a Redis command may take before the relay answers 503,
  // whether keys without limits keep flowing while Redis is away, where usage waits meanwhile.
  REDIS_COMMAND_TIMEOUT_MS: int(1500, 100),
  REDIS_OUTAGE: z.enum(['serve-unlimited', 'refuse-all']).default('serve-unlimited'),
  DATA_DIR: z.string().default('./data'),
  USAGE_QUEUE_MAX: int(10_000, 1),
  // The trust boundary (docs/security.md): bounds on what a caller can make the server hold.
  ADMIN_MAX_BODY_KB: int(1024, 1),
  // Reverse proxies in front of the relay whose X-Forwarded-For / -Proto are believed (0 = none).
  TRUST_PROXY: z.string().regex(/^(true|false|10|\d)$/, { error: 'must be false, true, or the number of proxy hops in front of the relay (0–10)' })
    .transform(v => (v === 'true' ? 1 : v === 'false' ? 0 : Number(v))).default(0),
  HEADERS_TIMEOUT_SECONDS: int(20, 1),
  REQUEST_TIMEOUT_SECONDS: int(300, 1),
  KEEP_ALIVE_TIMEOUT_SECONDS: int(5, 1),
  MAX_CONNECTIONS: int(4096, 1),
  LISTEN_BACKLOG: int(4096, 1),
  MAX_HEADERS_COUNT: int(100, 10),
  CORS_ORIGINS: corsOrigins,
  // OpenAI chat completions (docs/openai-compat.md): max_tokens when a request names none (Claude requires one).
  OPENAI_DEFAULT_MAX_TOKENS: int(8192, 1),
  // OpenAI image parts (docs/security.md "Remote images"): fetching http(s) URLs is off by default.
  OPENAI_IMAGE_FETCH: bool(false),
  OPENAI_IMAGE_MAX_MB: z.coerce.number().positive().max(20).default(5),
  OPENAI_IMAGE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(60_000).default(10_000),
})

function parseConfig(env: Record<string, string | undefined>) {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const result = EnvSchema.safeParse(cleaned)
  if (!result.success) {
    const lines = result.error.issues.map(i => `${i.path.join('.')} ${i.message}`)
    throw new ConfigError(lines)
  }
  const e = result.data
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    redis: {
      url: e.REDIS_URL,
      host: e.REDIS_HOST,
      port: e.REDIS_PORT,
      password: e.REDIS_PASSWORD,
      db: e.REDIS_DB,
      keyPrefix: e.REDIS_KEY_PREFIX,
      sentinels: e.REDIS_SENTINELS?.split(',').map((hp) => {
        const i = hp.lastIndexOf(':')
        return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) }
      }) ?? null,
      sentinelName: e.REDIS_SENTINEL_NAME,
      sentinelPassword: e.REDIS_SENTINEL_PASSWORD,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
      /** While Redis is away: keys without limits keep flowing (recorded afterwards), or every request gets 503. */
      outage: e.REDIS_OUTAGE,
      // Where a connection error message should point the user.
      describe: e.REDIS_SENTINELS
        ? `REDIS_SENTINELS (${e.REDIS_SENTINELS}, master ${e.REDIS_SENTINEL_NAME})`
        : e.REDIS_URL ? `REDIS_URL (${redactUrl(e.REDIS_URL)})` : `REDIS_HOST/REDIS_PORT (${e.REDIS_HOST}:${e.REDIS_PORT})`,
    },
    secrets: { jwt: e.JWT_SECRET, encryptionKey: e.ENCRYPTION_KEY, apiKeySalt: e.API_KEY_SALT },
    admin: { username: e.ADMIN_USERNAME, password: e.ADMIN_PASSWORD, sessionHours: e.ADMIN_SESSION_HOURS, maxBodyBytes: e.ADMIN_MAX_BODY_KB * 1024 },
    /** How many reverse-proxy hops to believe in X-Forwarded-For / X-Forwarded-Proto (0: none). */
    trustProxy: e.TRUST_PROXY,
    /** Socket bounds of the HTTP server, so one host cannot hold its sockets (docs/security.md). */
    server: {
      headersTimeoutMs: e.HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: e.REQUEST_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
      maxConnections: e.MAX_CONNECTIONS,
      listenBacklog: e.LISTEN_BACKLOG,
      maxHeadersCount: e.MAX_HEADERS_COUNT,
    },
    log: { level: e.LOG_LEVEL, dir: e.LOG_FILES === '1' ? e.LOG_DIR : null, retentionDays: e.LOG_RETENTION_DAYS },
    claude: {
      apiUrl: e.CLAUDE_API_URL,
      /** Subscription usage (headroom) polling; intervalMs 0 = off (answers' headers are still read). */
      usage: { url: e.CLAUDE_USAGE_URL ?? `${e.CLAUDE_API_URL}/api/oauth/usage`, intervalMs: e.CLAUDE_USAGE_POLL_SECONDS * 1000 },
      oauth: {
        authorizeUrl: e.CLAUDE_OAUTH_AUTHORIZE_URL,
        tokenUrl: e.CLAUDE_OAUTH_TOKEN_URL,
        clientId: e.CLAUDE_OAUTH_CLIENT_ID,
        redirectUri: e.CLAUDE_OAUTH_REDIRECT_URI,
        scopes: e.CLAUDE_OAUTH_SCOPES,
      },
    },
    gemini: {
      apiUrl: e.GEMINI_API_URL,
      codeAssistUrl: e.GEMINI_CODE_ASSIST_URL,
      oauth: {
        authorizeUrl: e.GOOGLE_OAUTH_AUTHORIZE_URL,
        tokenUrl: e.GOOGLE_OAUTH_TOKEN_URL,
        clientId: e.GEMINI_OAUTH_CLIENT_ID,
        clientSecret: e.GEMINI_OAUTH_CLIENT_SECRET,
        redirectUri: e.GEMINI_OAUTH_REDIRECT_URI,
      },
    },
    relay: {
      maxBodyBytes: Math.floor(e.REQUEST_MAX_SIZE_MB * 1024 * 1024),
      timeoutMs: e.PROXY_TIMEOUT,
      maxRetries: e.MAX_RETRIES,
      apiKeyCacheMs: e.API_KEY_CACHE_SECONDS * 1000,
    },
    accountStates: {
      overloadedMs: e.ACCOUNT_OVERLOAD_MINUTES * 60_000,
      cooldownMs: e.ACCOUNT_COOLDOWN_SECONDS * 1000,
      rateLimitedDefaultMs: e.ACCOUNT_RATE_LIMIT_SECONDS * 1000,
    },
    stickyTtlMs: e.STICKY_SESSION_TTL_SECONDS * 1000,
    /** How the pool picks among equally eligible accounts, and the window share at which a subscription account leaves it. */
    scheduling: { mode: e.ACCOUNT_SCHEDULING, headroomLimit: e.ACCOUNT_HEADROOM_LIMIT },
    /** When a sticky conversation waits for its rate-limited account rather than moving (cache-aware failover). */
    cacheWait: { maxMs: Math.round(e.CACHE_WAIT_MAX_SECONDS * 1000), minTokens: e.CACHE_WAIT_MIN_TOKENS },
    pools: {
      warm: e.POOL_WARM_CONNECTIONS,
      max: Math.max(e.POOL_MAX_CONNECTIONS, e.POOL_WARM_CONNECTIONS),
      idleMs: e.POOL_IDLE_SECONDS * 1000,
      maxAgeMs: e.POOL_MAX_AGE_MINUTES * 60_000,
      healthCheckMs: e.POOL_HEALTH_CHECK_SECONDS * 1000,
      sampleMs: e.POOL_SAMPLE_SECONDS * 1000,
      backoffMaxMs: e.POOL_RECONNECT_MAX_SECONDS * 1000,
      http2: e.UPSTREAM_HTTP2 === 'auto',
    },
    upstreamCaFile: e.UPSTREAM_CA_FILE ?? null,
    /** Files the relay keeps across restarts (the usage journal's spill file). */
    dataDir: resolve(e.DATA_DIR),
    usageQueueMax: e.USAGE_QUEUE_MAX,
    metricsToken: e.METRICS_TOKEN ?? null,
    /** Browser origins allowed on the client routes: `*`, a set of origins, or null (no CORS headers at all). */
    corsOrigins: e.CORS_ORIGINS === '*' ? '*' as const : e.CORS_ORIGINS?.size ? e.CORS_ORIGINS as ReadonlySet<string> : null,
    openai: {
      defaultMaxTokens: e.OPENAI_DEFAULT_MAX_TOKENS,
      /** What `image_url` parts may be: data: URLs up to maxBytes, and http(s) URLs only when `fetch`. */
      images: { fetch: e.OPENAI_IMAGE_FETCH, maxBytes: Math.floor(e.OPENAI_IMAGE_MAX_MB * 1024 * 1024), timeoutMs: e.OPENAI_IMAGE_TIMEOUT_MS },
    },
    tokenRefresher: { aheadMs: e.OAUTH_REFRESH_AHEAD_MINUTES * 60_000, intervalMs: e.OAUTH_REFRESH_INTERVAL_SECONDS * 1000 },
  })
}

/** A URL safe to print: any password replaced (`unparseable` when it is no URL). */
export function redactUrl(raw: string, unparseable = 'unparseable URL'): string {
  try {
    const u = new URL(raw)
    if (u.password) u.password = '***'
    return u.toString()
  }
  catch {
    return unparseable
  }
}

/** A configuration problem; `lines` name each variable and what is wrong with it. */
export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(`Invalid configuration:\n  ${lines.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

let cached: Config | undefined

/** Load `.env` from the working directory (values already in the environment win). */
export function loadDotEnv(dir = process.cwd()): void {
  const file = resolve(dir, '.env')
  if (process.env.CRS_SKIP_DOTENV !== '1' && existsSync(file)) process.loadEnvFile(file)
}

/** The process configuration, validated on first use. Throws ConfigError when invalid. */
export function useConfig(): Config {
  if (!cached) {
    loadDotEnv()
    cached = parseConfig(process.env)
  }
  return cached
}

/** Validate an arbitrary environment (for tests and the setup script). */
export function configFromEnv(env: Record<string, string | undefined>): Config {
  return parseConfig(env)
}
