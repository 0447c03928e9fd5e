import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'

// Two equal-priority accounts on two upstreams: without stickiness the pool rotates between them.
describe('sticky sessions', () => {
  const upX = new FakeAnthropic()
  const upY = new FakeAnthropic()
  const server = new TestServer({ STICKY_SESSION_TTL_SECONDS: '3600', ACCOUNT_OVERLOAD_MINUTES: '5' })
  const ids: Record<string, string> = {}
  let k1 = { id: '', apiKey: '' }
  let k2 = { id: '', apiKey: '' }

  beforeAll(async () => {
    await Promise.all([upX.start(), upY.start()])
    await server.start()
    ids.X = (await server.createConsoleAccount(upX.url, { name: 'X', priority: 10, apiKey: 'sk-ant-api03-account-x' })).id
    ids.Y = (await server.createConsoleAccount(upY.url, { name: 'Y', priority: 10, apiKey: 'sk-ant-api03-account-y' })).id
    k1 = await server.createKey({ name: 'k1' })
    k2 = await server.createKey({ name: 'k2' })
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([upX.stop(), upY.stop()])
  })
  beforeEach(async () => {
    upX.reset()
    upY.reset()
    await server.resetAccountStates()
  })

  /** Send as `apiKey` in Claude Code's session `session`; returns which account served it. */
  const send = async (apiKey: string, session: string | null, system = 'You are a helpful assistant.') => {
    const before = { X: upX.requests.length, Y: upY.requests.length }
    const fields: Record<string, unknown> = { system }
    if (session) fields.metadata = { user_id: `user_${'ab'.repeat(32)}_account__session_${session}` }
    const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody(fields) })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    // The one that answered: it got the request and was not failing (a failover touches both).
    const served = (['X', 'Y'] as const).filter(n => (n === 'X' ? upX : upY).requests.length > before[n] && (n === 'X' ? upX : upY).behaviour.mode !== 'error')
    expect(served).toHaveLength(1)
    return served[0]!
  }

  it('keeps a session on one account while other sessions rotate, per key, and moves it on failover', async () => {
    const s1 = '11111111-1111-4111-8111-111111111111'
    const first = await send(k1.apiKey, s1)
    const other = first === 'X' ? 'Y' : 'X'
    for (let i = 0; i < 4; i++) expect(await send(k1.apiKey, s1)).toBe(first)
    // A fresh session goes to the least recently used account: the pool still rotates.
    expect(await send(k1.apiKey, '22222222-2222-4222-8222-222222222222')).toBe(other)

    // The same session id under another key is another conversation: k1's binding does not apply.
    await send(k1.apiKey, s1) // k1's session was used last, so `other` is least recently used
    expect(await send(k2.apiKey, s1)).toBe(other)
    expect(await send(k2.apiKey, s1)).toBe(other)

    // Bindings live in Redis, scoped by key, hashed (no prompt or session text), with a TTL.
    const keys = await server.redis.keys(`${server.prefix}sticky:*`)
    expect(keys.some(k => k.includes(k1.id))).toBe(true)
    expect(keys.some(k => k.includes(k2.id))).toBe(true)
    expect(keys.some(k => k.includes(s1))).toBe(false)
    const ttl = await server.redis.ttl(keys[0]!.slice(server.prefix.length))
    expect(ttl).toBeGreaterThan(3500)
    expect(ttl).toBeLessThanOrEqual(3600)

    // The bound account overloads: the session fails over, and the binding moves with it.
    const bound = first === 'X' ? upX : upY
    bound.behaviour.mode = 'error'
    bound.behaviour.error = { status: 529, type: 'overloaded_error', message: 'Overloaded' }
    expect(await send(k1.apiKey, s1)).toBe(other)
    bound.behaviour.mode = 'ok'
    await server.resetAccountStates()
    expect(await send(k1.apiKey, s1)).toBe(other)
  })

  it('without metadata, the system prompt and first message identify the conversation', async () => {
    const sys = 'A distinctive system prompt for this conversation only.'
    const first = await send(k1.apiKey, null, sys)
    for (let i = 0; i < 3; i++) expect(await send(k1.apiKey, null, sys)).toBe(first)
  })
})
