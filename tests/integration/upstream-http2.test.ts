import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, sseEvents, TEST_TLS } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { TestServer } from '../helpers/server'

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * Anthropic's and Google's APIs offer HTTP/2. The relay speaks HTTP/1.1 to them on purpose
 * (docs/operations.md, "Why HTTP/1.1 to upstreams"): undici's HTTP/2 client fails every stream
 * in flight on a connection when the upstream sends a graceful GOAWAY, which edges send when they
 * recycle connections. These tests hold that line: a graceful shutdown of the upstream's HTTP/2
 * sessions cuts no stream the relay carries.
 */
describe('an upstream that offers HTTP/2 and recycles its connections', () => {
  const upstream = new FakeAnthropic({ http2: true })
  const server = new TestServer({ UPSTREAM_CA_FILE: TEST_TLS.caFile })
  let apiKey = ''

  beforeAll(async () => {
    await upstream.start()
    await server.start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'h2' })).apiKey
  })
  afterAll(async () => {
    await server.stop()
    await upstream.stop()
  })

  const send = () => rawRequest(`${server.url}/api/v1/messages`, {
    headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
  })

  it('a graceful GOAWAY mid-answer: 8 concurrent streams all finish byte-exact; the relay negotiated HTTP/1.1', async () => {
    upstream.behaviour.delayMs = 100
    const expected = sseEvents(upstream.behaviour).join('')
    const streams = Array.from({ length: 8 }, send)
    await expect.poll(() => upstream.requests.length, { timeout: 5000 }).toBe(8)
    await sleep(250)
    upstream.goAway()
    const answers = await Promise.all(streams)
    for (const a of answers) {
      expect(a.status, a.body).toBe(200)
      expect(a.body).toBe(expected)
    }
    expect(upstream.requests.map(r => r.httpVersion)).toEqual(Array(8).fill('1.1'))
    expect(upstream.requests.every(r => r.completed && !r.aborted)).toBe(true)
  })

  it('requests after the GOAWAY are served too', async () => {
    upstream.behaviour.delayMs = 0
    const a = await send()
    expect(a.status, a.body).toBe(200)
  })
})
