import { describe, expect, it } from 'vitest'
import { ConfigError, configFromEnv } from '../../server/config'
import { decryptSecret, encryptSecret } from '../../server/crypto'

const JWT_SECRET = 'j'.repeat(32)
const ENCRYPTION_KEY = 'e'.repeat(32)
const API_KEY_SALT = 's'.repeat(16)
type Cfg = ReturnType<typeof configFromEnv>
const minimal = (): Record<string, string | undefined> => ({ JWT_SECRET, ENCRYPTION_KEY, API_KEY_SALT })

/** The ConfigError thrown for `env` (fails the test when none is thrown). */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    configFromEnv(env)
  }
  catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return err as ConfigError
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`)
}

describe('configFromEnv: a valid minimal environment', () => {
  const cfg = configFromEnv(minimal())

  it('keeps the secrets as given', () => {
    expect(cfg.secrets).toEqual({ jwt: JWT_SECRET, encryptionKey: ENCRYPTION_KEY, apiKeySalt: API_KEY_SALT })
  })

  it('applies the documented defaults', () => {
    expect(cfg.port).toBe(3000)
    expect(cfg.host).toBe('0.0.0.0')
    expect(cfg.redis.host).toBe('127.0.0.1')
    expect(cfg.redis.port).toBe(6379)
    expect(cfg.redis.url).toBeUndefined()
    expect(cfg.claude.apiUrl).toBe('https://api.anthropic.com')
    expect(cfg.relay.maxBodyBytes).toBe(50 * 1024 * 1024)
    expect(cfg.relay.maxBodyBytes).toBe(52428800)
    expect(cfg.log.level).toBe('info')
    expect(cfg.admin.username).toBe('admin')
    expect(cfg.admin.password).toBeUndefined()
  })

  it('is frozen', () => {
    expect(Object.isFrozen(cfg)).toBe(true)
  })

  it('does not read process.env', () => {
    const before = process.env.PORT
    process.env.PORT = '4567'
    try {
      expect(configFromEnv(minimal()).port).toBe(3000)
    }
    finally {
      if (before === undefined) delete process.env.PORT
      else process.env.PORT = before
    }
  })
})

describe('configFromEnv: values', () => {
  it.each<[string, string, (c: Cfg) => unknown, unknown]>([
    ['PORT', '8080', c => c.port, 8080],
    ['HOST', '127.0.0.1', c => c.host, '127.0.0.1'],
    ['REDIS_PORT', '6380', c => c.redis.port, 6380],
    ['REDIS_HOST', 'redis.internal', c => c.redis.host, 'redis.internal'],
    ['LOG_LEVEL', 'debug', c => c.log.level, 'debug'],
    ['REQUEST_MAX_SIZE_MB', '1', c => c.relay.maxBodyBytes, 1024 * 1024],
    ['REQUEST_MAX_SIZE_MB', '1.5', c => c.relay.maxBodyBytes, Math.floor(1.5 * 1024 * 1024)],
    ['API_KEY_CACHE_SECONDS', '7', c => c.relay.apiKeyCacheMs, 7000],
    ['CLAUDE_API_URL', 'https://relay.example.com/anthropic/', c => c.claude.apiUrl, 'https://relay.example.com/anthropic'],
    ['CLAUDE_API_URL', 'https://relay.example.com///', c => c.claude.apiUrl, 'https://relay.example.com'],
    ['CLAUDE_API_URL', 'http://127.0.0.1:9999', c => c.claude.apiUrl, 'http://127.0.0.1:9999'],
    ['GEMINI_API_URL', 'https://gemini.example.com/', c => c.gemini.apiUrl, 'https://gemini.example.com'],
    ['OPENAI_IMAGE_FETCH', 'true', c => c.openai.images.fetch, true],
    ['OPENAI_IMAGE_FETCH', '1', c => c.openai.images.fetch, true],
    ['OPENAI_IMAGE_FETCH', 'false', c => c.openai.images.fetch, false],
    ['OPENAI_IMAGE_FETCH', '', c => c.openai.images.fetch, false],
    ['OPENAI_IMAGE_MAX_MB', '', c => c.openai.images.maxBytes, 5 * 1024 * 1024],
    ['OPENAI_IMAGE_MAX_MB', '0.5', c => c.openai.images.maxBytes, 512 * 1024],
    ['UPSTREAM_HTTP2', 'off', c => c.pools.http2, false],
    ['UPSTREAM_HTTP2', 'auto', c => c.pools.http2, true],
    ['UPSTREAM_HTTP2', '', c => c.pools.http2, true],
    ['OPENAI_IMAGE_TIMEOUT_MS', '', c => c.openai.images.timeoutMs, 10_000],
    ['OPENAI_IMAGE_TIMEOUT_MS', '2500', c => c.openai.images.timeoutMs, 2500],
  ])('%s=%j', (name, value, read, expected) => {
    expect(read(configFromEnv({ ...minimal(), [name]: value }))).toBe(expected)
  })

  it('describes where Redis comes from', () => {
    expect(configFromEnv({ ...minimal(), REDIS_URL: 'redis://x:1' }).redis.describe).toContain('REDIS_URL')
    expect(configFromEnv({ ...minimal(), REDIS_HOST: 'h', REDIS_PORT: '7' }).redis.describe).toContain('h:7')
  })

  it.each<[string, (c: Cfg) => unknown, unknown]>([
    ['PORT', c => c.port, configFromEnv(minimal()).port],
    ['HOST', c => c.host, configFromEnv(minimal()).host],
    ['LOG_LEVEL', c => c.log.level, configFromEnv(minimal()).log.level],
    ['CLAUDE_API_URL', c => c.claude.apiUrl, configFromEnv(minimal()).claude.apiUrl],
    ['ADMIN_PASSWORD', c => c.admin.password, undefined],
  ])('treats an empty %s as unset (default applies)', (name, read, expected) => {
    expect(read(configFromEnv({ ...minimal(), [name]: '' }))).toBe(expected)
  })
})

describe('configFromEnv: problems', () => {
  it.each([
    ['JWT_SECRET missing', { JWT_SECRET: undefined }, 'JWT_SECRET', ['required']],
    ['JWT_SECRET empty', { JWT_SECRET: '' }, 'JWT_SECRET', ['required']],
    ['JWT_SECRET of 31 chars', { JWT_SECRET: 'j'.repeat(31) }, 'JWT_SECRET', ['32', '31']],
    ['ENCRYPTION_KEY missing', { ENCRYPTION_KEY: undefined }, 'ENCRYPTION_KEY', ['required']],
    ['ENCRYPTION_KEY empty', { ENCRYPTION_KEY: '' }, 'ENCRYPTION_KEY', ['required']],
    ['ENCRYPTION_KEY of 12 chars', { ENCRYPTION_KEY: 'e'.repeat(12) }, 'ENCRYPTION_KEY', ['32', '12']],
    ['ENCRYPTION_KEY of 33 chars', { ENCRYPTION_KEY: 'e'.repeat(33) }, 'ENCRYPTION_KEY', ['32', '33']],
    ['API_KEY_SALT missing', { API_KEY_SALT: undefined }, 'API_KEY_SALT', ['required']],
    ['API_KEY_SALT of 15 chars', { API_KEY_SALT: 's'.repeat(15) }, 'API_KEY_SALT', ['16', '15']],
    ['ADMIN_PASSWORD of 7 chars', { ADMIN_PASSWORD: 'p'.repeat(7) }, 'ADMIN_PASSWORD', ['8']],
    ['LOG_LEVEL verbose', { LOG_LEVEL: 'verbose' }, 'LOG_LEVEL', []],
    ['LOG_LEVEL in upper case', { LOG_LEVEL: 'INFO' }, 'LOG_LEVEL', []],
    ['non-numeric PORT', { PORT: 'eighty' }, 'PORT', []],
    ['PORT 0', { PORT: '0' }, 'PORT', []],
    ['fractional PORT', { PORT: '80.5' }, 'PORT', []],
    ['non-numeric REDIS_PORT', { REDIS_PORT: 'x' }, 'REDIS_PORT', []],
    ['REQUEST_MAX_SIZE_MB 0', { REQUEST_MAX_SIZE_MB: '0' }, 'REQUEST_MAX_SIZE_MB', []],
    ['CLAUDE_API_URL not a URL', { CLAUDE_API_URL: 'api.anthropic.com' }, 'CLAUDE_API_URL', []],
    ['OPENAI_IMAGE_FETCH yes', { OPENAI_IMAGE_FETCH: 'yes' }, 'OPENAI_IMAGE_FETCH', []],
    ['UPSTREAM_HTTP2 on', { UPSTREAM_HTTP2: 'on' }, 'UPSTREAM_HTTP2', ['auto', 'off']],
    ['OPENAI_IMAGE_MAX_MB over 20', { OPENAI_IMAGE_MAX_MB: '21' }, 'OPENAI_IMAGE_MAX_MB', ['20']],
    ['OPENAI_IMAGE_MAX_MB 0', { OPENAI_IMAGE_MAX_MB: '0' }, 'OPENAI_IMAGE_MAX_MB', []],
    ['OPENAI_IMAGE_TIMEOUT_MS over a minute', { OPENAI_IMAGE_TIMEOUT_MS: '60001' }, 'OPENAI_IMAGE_TIMEOUT_MS', ['60000']],
  ])('%s → one line naming the variable and the problem', (_label, change, variable, mentions) => {
    const err = configError({ ...minimal(), ...change })
    expect(err.lines).toHaveLength(1)
    const line = err.lines[0]!
    expect(line.startsWith(`${variable} `)).toBe(true)
    for (const m of mentions) expect(line).toContain(m)
    expect(err.message).toContain(line)
  })

  it('reports every problem at once', () => {
    const err = configError({ ENCRYPTION_KEY: 'short', API_KEY_SALT: '', PORT: 'nope', LOG_LEVEL: 'loud' })
    const lines = err.lines
    const named = (v: string) => lines.filter(l => l.startsWith(`${v} `))
    expect(lines).toHaveLength(5)
    expect(named('JWT_SECRET')).toHaveLength(1)
    expect(named('ENCRYPTION_KEY')[0]).toContain(String('short'.length))
    expect(named('API_KEY_SALT')).toHaveLength(1)
    expect(named('PORT')).toHaveLength(1)
    expect(named('LOG_LEVEL')).toHaveLength(1)
    for (const l of lines) expect(err.message).toContain(l)
  })

  it('reports all three secrets missing from an empty environment', () => {
    const err = configError({})
    expect(err.lines.map(l => l.split(' ')[0]).sort()).toEqual(['API_KEY_SALT', 'ENCRYPTION_KEY', 'JWT_SECRET'])
    expect(err.name).toBe('ConfigError')
  })

  it('never puts a secret value into the error', () => {
    const secret = 'TOPSECRET-jwt-value-too-short'
    const err = configError({ ...minimal(), JWT_SECRET: secret })
    expect(err.message).not.toContain(secret)
  })

  // The config check and the cipher must agree: a key the config accepts must encrypt.
  it.each([
    ['32 ASCII characters', 'k'.repeat(32)],
    ['32 characters of which some are multi-byte', 'é'.repeat(2) + 'k'.repeat(30)],
  ])('an ENCRYPTION_KEY of %s is either rejected by the config or usable by the cipher', (_label, key) => {
    let accepted = true
    try {
      configFromEnv({ ...minimal(), ENCRYPTION_KEY: key })
    }
    catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      accepted = false
    }
    if (accepted) expect(decryptSecret(encryptSecret('x', key), key)).toBe('x')
  })
})
