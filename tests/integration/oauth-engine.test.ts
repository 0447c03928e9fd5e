import { createHash, randomBytes } from 'node:crypto'
import Redis from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { configFromEnv } from '../../server/config'
import { createSingleFlight, exchangeCode, generateAuthUrl, OAuthError, type OAuthTokens, refreshAccessToken, SESSION_TTL_MS } from '../../server/oauth'
import { rk } from '../../server/store/keys'
import { defineScripts } from '../../server/store/scripts'
import { FAKE_ACCOUNT, FAKE_GOOGLE_USER, FAKE_ORGANIZATION, FakeOAuthServer } from '../fixtures/oauth-server'
import { HttpConnectProxy, Socks5Proxy } from '../fixtures/proxies'

// The engine on its own (no built server): real HTTP against the fake token endpoint, real Redis
// (REDIS_URL or 127.0.0.1:6379) under a prefix of its own, deleted afterwards.
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379'
const PREFIX = `oauth-it:${randomBytes(6).toString('hex')}:`
const fake = new FakeOAuthServer()
const clients: Redis[] = []
let redis: Redis
let raw: Redis
let cfg: ReturnType<typeof configFromEnv>

const newClient = () => {
  const c = defineScripts(new Redis(REDIS_URL, { keyPrefix: PREFIX, lazyConnect: true, maxRetriesPerRequest: 1 }))
  clients.push(c)
  return c
}

beforeAll(async () => {
  await fake.start()
  redis = newClient()
  raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await Promise.all([redis.connect(), raw.connect()])
  cfg = configFromEnv({
    JWT_SECRET: 'j'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32), API_KEY_SALT: 's'.repeat(16),
    CLAUDE_OAUTH_TOKEN_URL: fake.url('/v1/oauth/token'), CLAUDE_OAUTH_CLIENT_ID: 'claude-client',
    CLAUDE_OAUTH_REDIRECT_URI: 'https://relay.example.test/claude/cb',
    GOOGLE_OAUTH_TOKEN_URL: fake.url('/token'), GEMINI_OAUTH_CLIENT_ID: 'google-client',
    GEMINI_OAUTH_CLIENT_SECRET: 'google-secret', GEMINI_OAUTH_REDIRECT_URI: 'https://relay.example.test/google/cb',
  })
})

afterEach(() => fake.reset())

afterAll(async () => {
  await fake.stop()
  if (raw?.status === 'ready') {
    let cursor = '0'
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 500)
      if (keys.length) await raw.del(...keys)
      cursor = next
    } while (cursor !== '0')
    expect(await raw.keys(`${PREFIX}*`)).toEqual([])
  }
  for (const c of clients) c.disconnect()
  raw?.disconnect()
})

/** Start an authorization and register its code with the fake (as the authorize page would). */
async function authorize(provider: 'claude' | 'google', proxy: string | null = null, code = `code-${randomBytes(4).toString('hex')}`) {
  const started = await generateAuthUrl(redis, cfg, { provider, proxy })
  const url = new URL(started.authUrl)
  const state = url.searchParams.get('state')!
  const challenge = url.searchParams.get('code_challenge')!
  fake.expectCode(code, challenge)
  return { ...started, state, challenge, code }
}

async function rejection(p: Promise<unknown>): Promise<OAuthError> {
  const err = await p.then(() => null, (e: unknown) => e)
  expect(err).toBeInstanceOf(OAuthError)
  return err as OAuthError
}

const sessionKey = (id: string) => rk.oauthSession(id)
const sha256 = (v: string) => createHash('sha256').update(v).digest('base64url')

describe('sessions', () => {
  it('keeps the session encrypted in Redis for at most 10 minutes', async () => {
    const a = await authorize('claude', 'http://user:proxy-pass-123@127.0.0.1:9')
    const ttl = await redis.pttl(sessionKey(a.sessionId))
    expect(ttl).toBeGreaterThan(SESSION_TTL_MS - 5000)
    expect(ttl).toBeLessThanOrEqual(600_000)
    expect(a.expiresAt - Date.now()).toBeLessThanOrEqual(600_000)
    const stored = (await redis.get(sessionKey(a.sessionId)))!
    expect(stored).toMatch(/^v1\./)
    expect(stored).not.toContain('proxy-pass-123')
    expect(stored).not.toContain(a.state)
  })

  it('refuses a malformed proxy before storing anything', async () => {
    const err = await rejection(generateAuthUrl(redis, cfg, { provider: 'claude', proxy: 'ftp://host:21' }))
    expect(err.kind).toBe('bad_input')
    expect(err.message).toMatch(/scheme/)
  })
})

describe('exchange', () => {
  it('Claude: sends exactly the documented JSON fields, returns the parsed tokens, deletes the session', async () => {
    const a = await authorize('claude')
    const before = Date.now()
    const tokens = await exchangeCode(redis, cfg, { sessionId: a.sessionId, code: `${a.code}#${a.state}`, provider: 'claude' })
    expect(fake.requests).toHaveLength(1)
    const req = fake.requests[0]!
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/v1/oauth/token')
    expect(req.encoding).toBe('json')
    expect(Object.keys(req.body).sort()).toEqual(['client_id', 'code', 'code_verifier', 'grant_type', 'redirect_uri', 'state'])
    expect(req.body).toMatchObject({ grant_type: 'authorization_code', client_id: 'claude-client', code: a.code, redirect_uri: 'https://relay.example.test/claude/cb', state: a.state })
    expect(sha256(req.body.code_verifier as string)).toBe(a.challenge)
    expect(tokens).toEqual({
      accessToken: expect.stringMatching(/^fake-access-\d+$/), refreshToken: expect.stringMatching(/^fake-refresh-\d+$/), expiresAt: expect.any(Number),
      scopes: ['user:inference', 'user:profile'],
      account: { id: FAKE_ACCOUNT.uuid, email: FAKE_ACCOUNT.email_address },
      organization: { id: FAKE_ORGANIZATION.uuid, name: FAKE_ORGANIZATION.name },
      proxy: null, // the session's proxy, for the new account
    })
    expect(tokens.expiresAt).toBeGreaterThanOrEqual(before + 3600_000)
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000)
    expect(await redis.exists(sessionKey(a.sessionId))).toBe(0)
    const again = await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code }))
    expect(again.kind).toBe('session_expired')
    expect(fake.requests).toHaveLength(1)
  })

  it('Google: sends exactly the documented form fields from a pasted callback URL', async () => {
    const a = await authorize('google', null, '4/0AbCdEf-gh')
    const callback = `https://relay.example.test/google/cb?code=${encodeURIComponent(a.code)}&state=${a.state}&scope=email`
    const tokens = await exchangeCode(redis, cfg, { sessionId: a.sessionId, code: callback })
    const req = fake.requests[0]!
    expect(req.path).toBe('/token')
    expect(req.encoding).toBe('form')
    expect(String(req.headers['content-type'])).toMatch(/^application\/x-www-form-urlencoded/)
    expect(Object.keys(req.body).sort()).toEqual(['client_id', 'client_secret', 'code', 'code_verifier', 'grant_type', 'redirect_uri'])
    expect(req.body).toMatchObject({ code: '4/0AbCdEf-gh', client_id: 'google-client', client_secret: 'google-secret', redirect_uri: 'https://relay.example.test/google/cb', grant_type: 'authorization_code' })
    expect(sha256(req.body.code_verifier as string)).toBe(a.challenge)
    expect(tokens.account).toEqual({ id: FAKE_GOOGLE_USER.sub, email: FAKE_GOOGLE_USER.email })
    expect(tokens.scopes).toContain('https://www.googleapis.com/auth/cloud-platform')
    expect(tokens.organization).toBeUndefined()
  })

  it('state mismatch: bad_state, no token request, and the session survives for a retry', async () => {
    const a = await authorize('claude')
    const ttlBefore = await redis.pttl(sessionKey(a.sessionId))
    const err = await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: `${a.code}#someone-elses-state` }))
    expect(err.kind).toBe('bad_state')
    expect(err.message).not.toContain(a.code)
    expect(fake.requests).toHaveLength(0)
    const ttlAfter = await redis.pttl(sessionKey(a.sessionId))
    expect(ttlAfter).toBeGreaterThan(0)
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore)
    await expect(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code })).resolves.toMatchObject({ accessToken: expect.stringMatching(/^fake-access-/) })
    expect(fake.requests).toHaveLength(1)
  })

  it('a session of the other provider is refused and kept', async () => {
    const a = await authorize('google')
    expect((await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code, provider: 'claude' }))).kind).toBe('bad_input')
    expect(await redis.exists(sessionKey(a.sessionId))).toBe(1)
    expect(fake.requests).toHaveLength(0)
  })

  it('garbage input: bad_input, the session untouched', async () => {
    const a = await authorize('claude')
    expect((await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: 'not a code at all' }))).kind).toBe('bad_input')
    expect(await redis.exists(sessionKey(a.sessionId))).toBe(1)
  })

  it('unknown session id: session_expired', async () => {
    expect((await rejection(exchangeCode(redis, cfg, { sessionId: 'no-such-session-000000', code: 'abcdef' }))).kind).toBe('session_expired')
    expect((await rejection(exchangeCode(redis, cfg, { sessionId: '../../etc', code: 'abcdef' }))).kind).toBe('session_expired')
  })

  it('a refused code is invalid_grant without echoing it; a new code then works on the same session', async () => {
    const a = await authorize('claude')
    const wrongVerifierCode = 'registered-for-another-challenge'
    fake.expectCode(wrongVerifierCode, 'not-this-challenge')
    const err = await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: wrongVerifierCode }))
    expect(err.kind).toBe('invalid_grant')
    expect(err.status).toBe(400)
    expect(err.retryable).toBe(false)
    // The fake echoed the code and the verifier: both are scrubbed.
    const verifier = fake.requests[0]!.body.code_verifier as string
    expect(err.message).toContain('***')
    expect(err.message).not.toContain(wrongVerifierCode)
    expect(err.message).not.toContain(verifier)
    await expect(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code })).resolves.toMatchObject({ refreshToken: expect.stringMatching(/^fake-refresh-/) })
  })

  it('a 500 is a retryable upstream error with its status', async () => {
    const a = await authorize('claude')
    fake.failNext(1, 500)
    const err = await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code }))
    expect(err).toMatchObject({ kind: 'upstream', status: 500, retryable: true })
    expect(await redis.exists(sessionKey(a.sessionId))).toBe(1)
  })

  it('an unreachable token endpoint is upstream without a status', async () => {
    const dead = configFromEnv({ JWT_SECRET: 'j'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32), API_KEY_SALT: 's'.repeat(16), CLAUDE_OAUTH_TOKEN_URL: 'http://127.0.0.1:9/token' })
    const err = await rejection(refreshAccessToken(dead, { provider: 'claude', refreshToken: 'rt-unreachable', proxy: null }))
    expect(err).toMatchObject({ kind: 'upstream', status: undefined, retryable: true })
    expect(err.message).toMatch(/unreachable/)
  })
})

describe('refresh', () => {
  it('Claude: JSON {grant_type, refresh_token, client_id}; rotated token returned', async () => {
    fake.addRefreshToken('rt-claude-1')
    const t = await refreshAccessToken(cfg, { provider: 'claude', refreshToken: 'rt-claude-1', proxy: null })
    expect(fake.requests[0]!.body).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-claude-1', client_id: 'claude-client' })
    expect(t.refreshToken).toMatch(/^fake-refresh-/)
    expect(fake.hasRefreshToken('rt-claude-1')).toBe(false)
  })

  it('keeps the old refresh token when the response has none (Google, form-encoded with the secret)', async () => {
    fake.addRefreshToken('rt-google-1')
    fake.behaviour.omitRefreshToken = true
    const t = await refreshAccessToken(cfg, { provider: 'google', refreshToken: 'rt-google-1', proxy: null })
    expect(fake.requests[0]!.encoding).toBe('form')
    expect(fake.requests[0]!.body).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-google-1', client_id: 'google-client', client_secret: 'google-secret' })
    expect(t.refreshToken).toBe('rt-google-1')
    expect(t.accessToken).toMatch(/^fake-access-/)
  })

  it('a revoked refresh token is invalid_grant, never named in the message', async () => {
    const err = await rejection(refreshAccessToken(cfg, { provider: 'claude', refreshToken: 'rt-revoked-secret', proxy: null }))
    expect(err).toMatchObject({ kind: 'invalid_grant', status: 400, retryable: false })
    expect(err.message).not.toContain('rt-revoked-secret')
    expect(fake.refreshCount).toBe(1)
  })
})

describe('proxies', () => {
  it('exchanges through an HTTP CONNECT proxy with credentials', async () => {
    const proxy = await new HttpConnectProxy({ user: 'pu', pass: 'pp-secret' }).start()
    try {
      const a = await authorize('claude', proxy.url())
      await exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code })
      expect(proxy.connections).toHaveLength(1)
      expect(proxy.connections[0]).toMatchObject({ target: `127.0.0.1:${fake.port}`, user: 'pu' })
      expect(fake.requests[0]!.remotePort).toBe(proxy.connections[0]!.localPort)
    }
    finally {
      await proxy.stop()
    }
  })

  it('refreshes through a SOCKS5 proxy with credentials', async () => {
    const proxy = await new Socks5Proxy({ user: 'su', pass: 'sp-secret' }).start()
    try {
      fake.addRefreshToken('rt-socks')
      await refreshAccessToken(cfg, { provider: 'google', refreshToken: 'rt-socks', proxy: proxy.url() })
      expect(proxy.connections).toEqual([expect.objectContaining({ target: `127.0.0.1:${fake.port}`, user: 'su' })])
      expect(fake.requests[0]!.remotePort).toBe(proxy.connections[0]!.localPort)
    }
    finally {
      await proxy.stop()
    }
  })

  it.each([['HTTP', () => new HttpConnectProxy({ user: 'u', pass: 'right' })], ['SOCKS5', () => new Socks5Proxy({ user: 'u', pass: 'right' })]])(
    '%s proxy refusing the credentials: kind proxy, password redacted, nothing reached the endpoint, session kept',
    async (_name, make) => {
      const proxy = await make().start()
      try {
        const a = await authorize('claude', proxy.url({ user: 'u', pass: 'wrong-pass-xyz' }))
        const err = await rejection(exchangeCode(redis, cfg, { sessionId: a.sessionId, code: a.code }))
        expect(err.kind).toBe('proxy')
        expect(err.message).not.toContain('wrong-pass-xyz')
        expect(err.message).toContain(`127.0.0.1:${proxy.port}`)
        expect(proxy.refused).toHaveLength(1)
        expect(fake.requests).toHaveLength(0)
        expect(await redis.exists(sessionKey(a.sessionId))).toBe(1)
      }
      finally {
        await proxy.stop()
      }
    },
  )
})

describe('single-flight refresh', () => {
  const ACCOUNT_KEY = (id: string) => `test_account:${id}`

  /** What the accounts code would do: refresh with the stored refresh token, then store the result. */
  function accountOps(client: Redis, accountId: string, counters = { refresh: 0, reread: 0 }) {
    const reread = async (): Promise<OAuthTokens> => {
      counters.reread++
      return JSON.parse((await client.get(ACCOUNT_KEY(accountId)))!) as OAuthTokens
    }
    const refresh = async (): Promise<OAuthTokens> => {
      counters.refresh++
      const current = JSON.parse((await client.get(ACCOUNT_KEY(accountId)))!) as OAuthTokens
      const next = await refreshAccessToken(cfg, { provider: 'claude', refreshToken: current.refreshToken, proxy: null })
      await client.set(ACCOUNT_KEY(accountId), JSON.stringify(next))
      return next
    }
    return { refresh, reread, counters }
  }

  async function seedAccount(accountId: string, refreshToken: string) {
    fake.addRefreshToken(refreshToken)
    await redis.set(ACCOUNT_KEY(accountId), JSON.stringify({ accessToken: 'old', refreshToken, expiresAt: Date.now(), scopes: [] }))
  }

  it('50 concurrent calls in one process: ONE refresh, everyone gets its result, lock released', async () => {
    await seedAccount('acct-a', 'rt-a')
    fake.behaviour.delayMs = 200
    const sf = createSingleFlight()
    const ops = accountOps(redis, 'acct-a')
    const results = await Promise.all(Array.from({ length: 50 }, () => sf.refreshOnce({ accountId: 'acct-a', redis, ...ops })))
    expect(fake.refreshCount).toBe(1)
    expect(ops.counters).toEqual({ refresh: 1, reread: 0 }) // shared in-process, not 49 lock waits
    expect(new Set(results.map(r => r.accessToken))).toEqual(new Set([results[0]!.accessToken]))
    expect(results[0]!.accessToken).toMatch(/^fake-access-/)
    expect(await redis.exists(rk.oauthLock('acct-a'))).toBe(0)
    expect(sf.pending()).toBe(0)
  })

  it('two instances (own clients, own maps): still ONE refresh; the other instance returns the reread value', async () => {
    await seedAccount('acct-b', 'rt-b')
    fake.behaviour.delayMs = 300
    const [clientA, clientB] = [newClient(), newClient()]
    const [sfA, sfB] = [createSingleFlight({ pollMs: 20 }), createSingleFlight({ pollMs: 20 })]
    const opsA = accountOps(clientA, 'acct-b')
    const opsB = accountOps(clientB, 'acct-b')
    const calls: Promise<OAuthTokens>[] = []
    for (let i = 0; i < 25; i++) {
      calls.push(sfA.refreshOnce({ accountId: 'acct-b', redis: clientA, ...opsA }))
      calls.push(sfB.refreshOnce({ accountId: 'acct-b', redis: clientB, ...opsB }))
    }
    const results = await Promise.all(calls)
    expect(fake.refreshCount).toBe(1)
    expect(opsA.counters.refresh + opsB.counters.refresh).toBe(1)
    // The loser rereads exactly once (its 25 callers share that wait) and gets what the winner stored.
    const loser = opsA.counters.refresh ? opsB : opsA
    expect(loser.counters).toEqual({ refresh: 0, reread: 1 })
    const stored = JSON.parse((await redis.get(ACCOUNT_KEY('acct-b')))!) as OAuthTokens
    expect(stored.accessToken).toMatch(/^fake-access-/)
    expect(results.every(r => r.accessToken === stored.accessToken && r.refreshToken === stored.refreshToken)).toBe(true)
    expect(await redis.exists(rk.oauthLock('acct-b'))).toBe(0)
  })

  it('a failed refresh rejects every waiting caller, releases the lock, and the next call refreshes anew', async () => {
    await seedAccount('acct-c', 'rt-c')
    fake.behaviour.delayMs = 50
    fake.failNext(1, 400)
    const sf = createSingleFlight()
    const ops = accountOps(redis, 'acct-c')
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => sf.refreshOnce({ accountId: 'acct-c', redis, ...ops })))
    expect(settled.every(s => s.status === 'rejected' && (s.reason as OAuthError).kind === 'invalid_grant')).toBe(true)
    expect(fake.refreshCount).toBe(1)
    expect(await redis.exists(rk.oauthLock('acct-c'))).toBe(0)
    await expect(sf.refreshOnce({ accountId: 'acct-c', redis, ...ops })).resolves.toMatchObject({ accessToken: expect.stringMatching(/^fake-access-/) })
    expect(fake.refreshCount).toBe(2)
  })

  it('release is compare-and-delete: a lock that expired and was taken by another holder is left alone', async () => {
    const sf = createSingleFlight({ lockTtlMs: 100 })
    const key = rk.oauthLock('acct-d')
    const result = await sf.refreshOnce({
      accountId: 'acct-d', redis,
      refresh: async () => {
        await new Promise(r => setTimeout(r, 250))
        expect(await redis.exists(key)).toBe(0) // our lock expired meanwhile…
        await redis.set(key, 'another-holder', 'PX', 5000) // …and someone else took it
        return 'done'
      },
      reread: async () => 'reread',
    })
    expect(result).toBe('done')
    expect(await redis.get(key)).toBe('another-holder')
    await redis.del(key)
  })

  it('a lock held past the wait deadline: busy, no refresh', async () => {
    await redis.set(rk.oauthLock('acct-e'), 'held-elsewhere', 'PX', 5000)
    const sf = createSingleFlight({ waitMs: 300, pollMs: 50 })
    let refreshed = false
    const err = await rejection(sf.refreshOnce({ accountId: 'acct-e', redis, refresh: async () => (refreshed = true), reread: async () => false }))
    expect(err).toMatchObject({ kind: 'busy', retryable: true })
    expect(refreshed).toBe(false)
    await redis.del(rk.oauthLock('acct-e'))
  })

  it('isFresh: once the lock is ours, a token another instance just refreshed is returned without refreshing', async () => {
    const sf = createSingleFlight()
    let refreshed = 0
    const value = await sf.refreshOnce({ accountId: 'acct-f', redis, refresh: async () => ++refreshed, reread: async () => 42, isFresh: v => v === 42 })
    expect(value).toBe(42)
    expect(refreshed).toBe(0)
    expect(await redis.exists(rk.oauthLock('acct-f'))).toBe(0)
  })
})
