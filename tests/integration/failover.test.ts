import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'

interface AccountView { id: string, name: string, status: { state: string, reason?: string, until?: string | null } }

// Two accounts on two fake upstreams: A is preferred (priority 1), B is the fallback.
describe('account states and failover', () => {
  const upA = new FakeAnthropic()
  const upB = new FakeAnthropic()
  const server = new TestServer({ ACCOUNT_COOLDOWN_SECONDS: '30', ACCOUNT_OVERLOAD_MINUTES: '5', MAX_RETRIES: '3' })
  let a = ''
  let b = ''
  let apiKey = ''

  beforeAll(async () => {
    await Promise.all([upA.start(), upB.start()])
    await server.start()
    a = (await server.createConsoleAccount(upA.url, { name: 'A', priority: 1, apiKey: 'sk-ant-api03-account-a' })).id
    b = (await server.createConsoleAccount(upB.url, { name: 'B', priority: 2, apiKey: 'sk-ant-api03-account-b' })).id
    apiKey = (await server.createKey({ name: 'failover' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([upA.stop(), upB.stop()])
  })
  beforeEach(async () => {
    upA.reset()
    upB.reset()
    await server.resetAccountStates()
  })

  const send = async (key = apiKey, stream = false) => {
    const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: messageBody({ stream }) })
    return { status: res.status, body: await res.text(), headers: res.headers }
  }
  const view = async (id: string) => (await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${id}`)).body

  it('429 on A: the same request is served by B; A is skipped until its reset and used again after it', async () => {
    const resetAt = Math.ceil(Date.now() / 1000) + 3
    upA.behaviour.mode = 'error429'
    upA.behaviour.headers = { 'anthropic-ratelimit-unified-reset': String(resetAt) }
    const first = await send(undefined, true)
    expect(first.status).toBe(200)
    expect(upA.requests).toHaveLength(1)
    expect(upB.requests).toHaveLength(1)
    const stateA = await view(a)
    expect(stateA.status).toMatchObject({ state: 'rate_limited' })
    expect((await view(b)).status.state).toBe('active')
    expect(Date.parse(stateA.status.until!)).toBe(resetAt * 1000)

    expect((await send()).status).toBe(200)
    expect(upA.requests).toHaveLength(1) // skipped while rate limited
    upA.behaviour.mode = 'ok'
    await pollUntil(async () => (await view(a)).status.state, s => s === 'active', 6000)
    expect((await send()).status).toBe(200)
    expect(upA.requests).toHaveLength(2) // back in the pool after the reset
  })

  it.each([
    ['529 → overloaded', { status: 529, type: 'overloaded_error', message: 'Overloaded' }, 'overloaded'],
    ['500 → cooldown', { status: 500, type: 'api_error', message: 'Internal server error' }, 'cooldown'],
    ['401 → error until reset', { status: 401, type: 'authentication_error', message: 'invalid x-api-key' }, 'error'],
    ['403 organization disabled → blocked', { status: 403, type: 'permission_error', message: 'This organization has been disabled.' }, 'blocked'],
  ])('%s, and B serves the request', async (_, error, state) => {
    upA.behaviour.mode = 'error'
    upA.behaviour.error = error
    const res = await send()
    expect(res.status).toBe(200)
    expect(upB.requests).toHaveLength(1)
    expect((await view(a)).status.state).toBe(state)
    // An admin can put it back at once.
    await server.admin('POST', `/api/admin/claude-accounts/${a}/reset-state`)
    expect((await view(a)).status.state).toBe('active')
  })

  it('an unreachable account cools down and B serves; its failing pool keeps the pool\'s picks away from it', async () => {
    const dead = (await server.createConsoleAccount(`http://127.0.0.1:${await freePort()}`, { name: 'dead', priority: 0 })).id
    try {
      // Its connection pool cannot connect: though it has the best priority, A serves.
      await pollUntil(async () => (await server.admin<{ accounts: { accountId: string, healthy: boolean }[] }>('GET', '/connection-pools')).body.accounts.find(x => x.accountId === dead)?.healthy, h => h === false, 3000)
      expect((await send()).status).toBe(200)
      expect(upA.requests).toHaveLength(1)
      expect((await view(dead)).status.state).toBe('active')
      // A key bound to it tries it anyway: the connection fails, it cools down, the pool serves.
      const bound = await server.createKey({ name: 'bound-dead', claudeAccountId: dead, dedicatedFallback: true })
      expect((await send(bound.apiKey)).status).toBe(200)
      expect((await view(dead)).status).toMatchObject({ state: 'cooldown' })
    }
    finally {
      await server.admin('DELETE', `/api/admin/claude-accounts/${dead}`)
    }
  })

  it('a request problem (400) is answered as is, without failover or marking the account', async () => {
    upA.behaviour.mode = 'error'
    upA.behaviour.error = { status: 400, type: 'invalid_request_error', message: 'max_tokens: field required' }
    const res = await send()
    expect(res.status).toBe(400)
    expect(JSON.parse(res.body)).toMatchObject({ error: { message: 'max_tokens: field required' } })
    expect(upB.requests).toHaveLength(0)
    expect((await view(a)).status.state).toBe('active')
  })

  it('all accounts down: the last upstream error, then one clear 503 saying when to retry (account names and states only in the admin log)', async () => {
    for (const up of [upA, upB]) {
      up.behaviour.mode = 'error'
      up.behaviour.error = { status: 529, type: 'overloaded_error', message: 'Overloaded' }
    }
    const first = await send()
    expect(first.status).toBe(529)
    expect(first.headers.get('x-relay-attempts')).toBe('2')
    const next = await send()
    expect(next.status).toBe(503)
    const msg = JSON.parse(next.body).error.message as string
    // Issue 12: a key holder is told what it can act on, never the accounts' names or states.
    expect(msg).toMatch(/every account is rate limited or out of service; try again in \d+ s/)
    expect(msg).not.toMatch(/overloaded until|A:|B:/)
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0)
  })

  it('the dashboard counts accounts by state', async () => {
    upA.behaviour.mode = 'error429'
    expect((await send()).status).toBe(200)
    const d = (await server.admin<{ accounts: { total: number, byState: Record<string, number>, byPlatform: Record<string, number> } }>('GET', '/api/admin/dashboard')).body
    expect(d.accounts).toMatchObject({ total: 2, byPlatform: { claude: 2, gemini: 0 } })
    expect(d.accounts.byState).toMatchObject({ active: 1, rate_limited: 1, overloaded: 0, error: 0 })
  })

  it('the 5-hour session window Anthropic reports shows on the account', async () => {
    const reset = Math.ceil(Date.now() / 1000) + 4 * 3600
    upA.behaviour.headers = { 'anthropic-ratelimit-unified-5h-status': 'allowed_warning', 'anthropic-ratelimit-unified-5h-reset': String(reset) }
    expect((await send()).status).toBe(200)
    const w = (await server.admin<AccountView & { sessionWindow: { status: string, resetAt: string, seenAt: string } | null }>('GET', `/api/admin/claude-accounts/${a}`)).body.sessionWindow
    expect(w).toMatchObject({ status: 'allowed_warning', resetAt: new Date(reset * 1000).toISOString() })
    expect(Math.abs(Date.parse(w!.seenAt) - Date.now())).toBeLessThan(10_000)
    // B never reported one.
    expect((await server.admin<{ sessionWindow: unknown }>('GET', `/api/admin/claude-accounts/${b}`)).body.sessionWindow).toBeNull()
    // The next answer's window replaces it.
    upA.behaviour.headers = { 'anthropic-ratelimit-unified-5h-status': 'rejected', 'anthropic-ratelimit-unified-5h-reset': String(reset + 60) }
    expect((await send()).status).toBe(200)
    const list = (await server.admin<{ items?: unknown[] } | unknown[]>('GET', '/api/admin/claude-accounts')).body
    const items = (Array.isArray(list) ? list : list.items ?? []) as { id: string, sessionWindow: { status: string } | null }[]
    expect(items.find(x => x.id === a)?.sessionWindow).toMatchObject({ status: 'rejected' })
  })

  it('a dedicated account serves only the keys bound to it; the pool never lands on it', async () => {
    const c = (await server.createConsoleAccount(upA.url, { name: 'C-dedicated', priority: 0, apiKey: 'sk-ant-api03-account-c' })).id
    try {
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${c}`, { accountType: 'dedicated' })).status).toBe(200)
      const bound = await server.createKey({ name: 'tenant', claudeAccountId: c })
      // Priority 0 would win the pool, but the pool skips a dedicated account.
      for (let i = 0; i < 3; i++) expect((await send()).status).toBe(200)
      expect(upA.requests.map(r => r.headers['x-api-key'])).toEqual(Array(3).fill('sk-ant-api03-account-a'))
      expect((await send(bound.apiKey)).status).toBe(200)
      expect(upA.last()?.headers['x-api-key']).toBe('sk-ant-api03-account-c')
      const bad = await server.admin<{ message: string }>('PUT', `/api/admin/claude-accounts/${c}`, { accountType: 'private' })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toMatch(/accountType/)
    }
    finally {
      await server.admin('DELETE', `/api/admin/claude-accounts/${c}`)
    }
  })

  it('dedicatedFallback: a bound key falls back to the shared pool when its account is down', async () => {
    const key = await server.createKey({ name: 'bound-with-fallback', claudeAccountId: a, dedicatedFallback: true })
    upA.behaviour.mode = 'error'
    upA.behaviour.error = { status: 529, type: 'overloaded_error', message: 'Overloaded' }
    expect((await send(key.apiKey)).status).toBe(200)
    expect(upB.requests).toHaveLength(1)
    expect((await send(key.apiKey)).status).toBe(200) // A overloaded: straight to B
    expect(upA.requests).toHaveLength(1)
    expect(upB.requests).toHaveLength(2)
  })

  it('a key bound to A does not fall back to B', async () => {
    const bound = await server.createKey({ name: 'bound', claudeAccountId: a })
    upA.behaviour.mode = 'error'
    upA.behaviour.error = { status: 529, type: 'overloaded_error', message: 'Overloaded' }
    expect((await send(bound.apiKey)).status).toBe(529)
    expect(upB.requests).toHaveLength(0)
    const again = await send(bound.apiKey)
    expect(again.status).toBe(503)
    expect(JSON.parse(again.body).error.message).toMatch(/try again in \d+ s/)
  })
})
