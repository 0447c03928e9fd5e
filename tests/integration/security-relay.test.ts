import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { Socks5Proxy } from '../fixtures/proxies'
import { messageBody, rawRequest, type RawResponse } from '../helpers/client'
import { dumpPrefix } from '../helpers/redis-dump'
import { TestServer } from '../helpers/server'

// The trust boundary on the Claude relay (issue 12): what a key holder sends or provokes is
// bounded before it is stored, cannot take a shared account out of the pool, and error messages
// tell the key holder only what they can act on.

interface AnthropicErrorBody { type: string, error: { type: string, message: string } }

function expectAnthropicError(res: RawResponse, status: number, type: string): AnthropicErrorBody {
  expect(res.status, res.body).toBe(status)
  const body = JSON.parse(res.body) as AnthropicErrorBody
  expect(body).toEqual({ type: 'error', error: { type, message: expect.any(String) } })
  return body
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const upA = new FakeAnthropic()
const upB = new FakeAnthropic()
const proxy = new Socks5Proxy({ user: 'proxy-user', pass: 'proxy-pass' })
const server = new TestServer({ LOG_LEVEL: 'info' })
let accountA = ''
let apiKey = ''

beforeAll(async () => {
  await Promise.all([upA.start(), upB.start(), proxy.start()])
  await server.start()
  accountA = (await server.createConsoleAccount(upA.url, { name: 'account-a' })).id
  apiKey = (await server.createKey({ name: 'security' })).apiKey
})
afterAll(async () => {
  await server.stop()
  await Promise.all([upA.stop(), upB.stop(), proxy.stop()])
})
beforeEach(async () => {
  upA.reset()
  upB.reset()
  await server.resetAccountStates()
})

const send = (key: string, body: string, path = '/api/v1/messages') =>
  rawRequest(`${server.url}${path}`, { headers: { 'content-type': 'application/json', 'x-api-key': key }, body })
const accountState = async (id: string) =>
  (await server.admin<{ status: { state: string } }>('GET', `/api/admin/claude-accounts/${id}`)).body.status.state
const redisText = async () => [...(await dumpPrefix(server.redis, server.prefix)).values()].join('\n')
const metricsText = async () =>
  (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await server.adminToken()}` } })).text()

describe('model names are bounded before they are stored, logged or labelled', () => {
  const huge = `claude-${'x'.repeat(100 * 1024)}`

  it.each([
    ['a 100 KB model', huge],
    ['control characters', 'claude-sonnet\n4-5'],
    ['a path', '../../v1/files'],
    ['101 characters', `c${'a'.repeat(100)}`],
  ])('%s → 400 invalid_request_error, nothing sent upstream, nothing stored', async (_, model) => {
    for (const path of ['/api/v1/messages', '/api/v1/messages/count_tokens']) {
      const body = expectAnthropicError(await send(apiKey, messageBody({ model }), path), 400, 'invalid_request_error')
      expect(body.error.message).toMatch(/model must be at most 100 characters/)
    }
    expect(upA.requests).toHaveLength(0)
    const marker = model.slice(0, 40)
    expect(await redisText()).not.toContain(marker)
    expect(server.output).not.toContain(marker)
  })

  it('a model name the upstream echoes back is untrusted too: a blob is recorded under the requested model', async () => {
    const echoed = `claude-echo-${'y'.repeat(50 * 1024)}`
    upA.behaviour.model = echoed
    for (const stream of [false, true]) expect((await send(apiKey, messageBody({ stream }))).status).toBe(200)
    await expect.poll(async () => (await redisText()).includes('claude-sonnet-4-5')).toBe(true)
    const stored = await redisText()
    expect(stored).not.toContain('claude-echo-yyyy')
    expect(await metricsText()).not.toContain('claude-echo-yyyy')
    expect(server.output).not.toContain('claude-echo-yyyy')
  })

  it('made-up model names that no upstream answered are recorded as "other" (Redis does not grow with them)', async () => {
    upA.behaviour.mode = 'hang'
    const names = Array.from({ length: 5 }, (_, i) => `claude-made-up-${i}`)
    for (const model of names) {
      const ac = new AbortController()
      const pending = fetch(`${server.url}/api/v1/messages`, {
        method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: messageBody({ model }),
      }).catch(() => null)
      await expect.poll(() => upA.requests.length).toBe(names.indexOf(model) + 1)
      ac.abort()
      await pending
    }
    // Each abort is recorded (counted, flagged aborted) — under `other`, never under the made-up name.
    await expect.poll(async () => (await redisText()).includes('other')).toBe(true)
    const stored = await redisText()
    for (const model of names) expect(stored).not.toContain(model)
    expect(await metricsText()).not.toContain('claude-made-up-')
  })
})

describe('a key holder cannot take a shared account out of the pool', () => {
  it.each([
    [401, 'authentication_error', 'invalid x-api-key (echo: EVIL-FIELD)'],
    [403, 'permission_error', 'This organization has been disabled. (echo: EVIL-FIELD)'],
  ])('a %i about the request itself (the relay\'s own probe is accepted) goes back to its sender; the account stays active for the next tenant', async (status, type, message) => {
    upA.behaviour.mode = 'error'
    upA.behaviour.error = { status, type, message, when: 'EVIL-FIELD' }
    const res = await send(apiKey, messageBody({ metadata: { note: 'EVIL-FIELD' } }))
    expect(res.status).toBe(status)
    expect(await accountState(accountA)).toBe('active')
    // The relay asked on its own behalf, with nothing of the client's request in it.
    const probe = upA.requests.find(r => r.path.startsWith('/v1/messages/count_tokens'))
    expect(probe?.body).not.toContain('EVIL-FIELD')
    const other = (await server.createKey({ name: `other tenant ${status}` })).apiKey
    expect((await send(other, messageBody())).status).toBe(200)
  })

  it.each([
    [401, 'authentication_error', 'invalid x-api-key', 'error'],
    [403, 'permission_error', 'This organization has been disabled.', 'blocked'],
  ])('a %i that a request of the relay\'s own gets too marks the account %s', async (status, type, message, state) => {
    upA.behaviour.mode = 'error'
    upA.behaviour.error = { status, type, message }
    expect((await send(apiKey, messageBody())).status).toBe(status)
    expect(await accountState(accountA)).toBe(state)
  })
})

describe('key holders are told what they can act on, never account or proxy details', () => {
  it('a proxy that refuses the account: 502 without the proxy\'s scheme, host, port or user (the admin log has them)', async () => {
    const broken = (await server.createConsoleAccount(upB.url, {
      name: 'secret-proxy-account', accountType: 'dedicated', proxy: proxy.url({ user: 'proxy-user', pass: 'wrong' }),
    })).id
    try {
      const bound = (await server.createKey({ name: 'bound', claudeAccountId: broken })).apiKey
      const res = await send(bound, messageBody())
      const body = expectAnthropicError(res, 502, 'api_error')
      for (const secret of ['socks5', '127.0.0.1', String(proxy.port), 'proxy-user', 'secret-proxy-account', broken]) {
        expect(body.error.message).not.toContain(secret)
      }
      await expect.poll(() => server.output.includes(`127.0.0.1:${proxy.port}`)).toBe(true)
    }
    finally {
      await server.admin('DELETE', `/api/admin/claude-accounts/${broken}`)
    }
  })

  it('no account available: 503 with retry-after and no account names or states', async () => {
    const limited = (await server.createConsoleAccount(upB.url, { name: 'secret-limited-account', accountType: 'dedicated' })).id
    try {
      const bound = (await server.createKey({ name: 'bound-limited', claudeAccountId: limited })).apiKey
      upB.behaviour.mode = 'error429'
      upB.behaviour.headers = { 'anthropic-ratelimit-unified-reset': String(Math.ceil(Date.now() / 1000) + 60) }
      expect((await send(bound, messageBody())).status).toBe(429)
      const res = await send(bound, messageBody())
      const body = expectAnthropicError(res, 503, 'overloaded_error')
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0)
      expect(body.error.message).toMatch(/try again in \d+ s/)
      for (const secret of ['secret-limited-account', limited, 'rate_limited', 'upstream 429']) expect(body.error.message).not.toContain(secret)
      await expect.poll(() => server.output.includes('secret-limited-account')).toBe(true)
    }
    finally {
      await server.admin('DELETE', `/api/admin/claude-accounts/${limited}`)
    }
  })
})

describe('every route a key holder can call goes through its policy', () => {
  it('count_tokens holds a concurrency lease: with a stream in flight, a limit-1 key is refused; after it, served', async () => {
    const one = (await server.createKey({ name: 'one at a time', concurrencyLimit: 1 })).apiKey
    upA.behaviour.delayMs = 150
    const stream = send(one, messageBody({ stream: true }))
    await expect.poll(() => upA.requests.length).toBe(1)
    const refused = await send(one, messageBody(), '/api/v1/messages/count_tokens')
    expectAnthropicError(refused, 429, 'rate_limit_error')
    expect((await stream).status).toBe(200)
    await sleep(50)
    upA.behaviour.delayMs = 0
    expect((await send(one, messageBody(), '/api/v1/messages/count_tokens')).status).toBe(200)
    // …and gives its lease back: a message right after is served too.
    expect((await send(one, messageBody())).status).toBe(200)
  })

  it('count_tokens checks the model allow-list', async () => {
    const haiku = (await server.createKey({ name: 'haiku only', allowedModels: ['claude-haiku-*'] })).apiKey
    expectAnthropicError(await send(haiku, messageBody(), '/api/v1/messages/count_tokens'), 403, 'permission_error')
    expect(upA.requests).toHaveLength(0)
  })

  it('the model list shows only what the key may use; a Gemini-only key is refused', async () => {
    const haiku = (await server.createKey({ name: 'haiku list', allowedModels: ['claude-haiku-*'] })).apiKey
    const list = await rawRequest(`${server.url}/api/v1/models`, { method: 'GET', headers: { 'x-api-key': haiku } })
    expect(list.status).toBe(200)
    const ids = (JSON.parse(list.body) as { data: { id: string }[] }).data.map(m => m.id)
    expect(ids.length).toBeGreaterThan(0)
    expect(ids.every(id => id.startsWith('claude-haiku-'))).toBe(true)
    const gemini = (await server.createKey({ name: 'gemini only', permissions: 'gemini' })).apiKey
    expectAnthropicError(await rawRequest(`${server.url}/api/v1/models`, { method: 'GET', headers: { 'x-api-key': gemini } }), 403, 'permission_error')
  })
})
