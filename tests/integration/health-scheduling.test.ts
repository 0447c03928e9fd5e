import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface View { health: { samples: number, ttfbP50Ms: number | null } }

// Two equal accounts; one turns slow. The scheduler notices from its own measurements (TTFB over
// recent requests) and stops giving it traffic, sticky conversations included, until it recovers.
describe('health-aware scheduling', () => {
  const fast = new FakeAnthropic()
  const slow = new FakeAnthropic()
  const server = new TestServer({ STICKY_SESSION_TTL_SECONDS: '3600' })
  let slowId = ''
  let apiKey = ''

  beforeAll(async () => {
    await Promise.all([fast.start(), slow.start()])
    await server.start()
    await server.createConsoleAccount(fast.url, { name: 'fast', priority: 10 })
    slowId = (await server.createConsoleAccount(slow.url, { name: 'slow', priority: 10 })).id
    apiKey = (await server.createKey({ name: 'health' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([fast.stop(), slow.stop()])
  })

  const send = async (session: string) => {
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: messageBody({ metadata: { user_id: `user_x_account__session_${session}` } }),
    })
    expect(res.status).toBe(200)
    await res.arrayBuffer()
  }

  it('moves traffic and sticky sessions off an account much slower than its peer', async () => {
    slow.behaviour.headerDelayMs = 400
    // Distinct sessions, so LRU alternates and both accounts collect samples.
    for (let i = 0; i < 20; i++) await send(`warmup-${String(i).padStart(8, '0')}`)
    expect(slow.requests.length).toBeGreaterThanOrEqual(8)
    const view = (await server.admin<View>('GET', `/api/admin/claude-accounts/${slowId}`)).body
    expect(view.health.samples).toBeGreaterThanOrEqual(8)
    expect(view.health.ttfbP50Ms).toBeGreaterThanOrEqual(400)

    // Now every new conversation goes to the fast account …
    const before = slow.requests.length
    for (let i = 0; i < 6; i++) await send(`after-${String(i).padStart(8, '0')}`)
    expect(slow.requests.length).toBe(before)
    // … and a conversation that was stuck to the slow account moves too.
    const stuckOnSlow = /session_(.+)$/.exec(JSON.parse(slow.requests[0]!.body).metadata.user_id)![1]!
    expect(stuckOnSlow).toMatch(/^warmup-/)
    await send(stuckOnSlow)
    expect(slow.requests.length).toBe(before)
  })
})
