import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { TestServer } from '../helpers/server'

describe('smoke', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  beforeAll(async () => {
    await upstream.start()
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })

  it('relays a non-stream message', async () => {
    await server.createConsoleAccount(upstream.url)
    const { apiKey } = await server.createKey()
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [] }),
    })
    expect(res.status).toBe(200)
    expect(upstream.last().headers['x-api-key']).toBe('sk-ant-api03-test-upstream-key')
  })
})
