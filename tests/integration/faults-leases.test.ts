import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { TestServer, testSecrets } from '../helpers/server'

// Issue 13: the concurrency leases of an instance that dies (SIGKILL: no shutdown, no release)
// are free within 20 s, while a live long stream keeps its slot by renewing it.

const upstream = new FakeAnthropic()
// Two instances of one deployment: the same secrets and Redis data.
const secrets = testSecrets()
const first = new TestServer(secrets)
let second: TestServer
let apiKey = ''
let keyId = ''

beforeAll(async () => {
  await upstream.start()
  await first.start()
  await first.createConsoleAccount(upstream.url)
  const key = await first.createKey({ name: 'one at a time', concurrencyLimit: 1 })
  keyId = key.id
  apiKey = key.apiKey
  second = await new TestServer(secrets, { prefix: first.prefix }).start()
})
afterAll(async () => {
  await second.stop({ keepData: true })
  await first.stop()
  await upstream.stop()
})

const send = (server: TestServer, stream = false) =>
  rawRequest(`${server.url}/api/v1/messages`, { headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: messageBody({ stream }) })

describe('leases of a killed instance', () => {
  it('a stream longer than the lease keeps its slot (renewed), so the key stays at its limit', async () => {
    upstream.behaviour = { ...upstream.behaviour, delayMs: 1000, deltas: 18 } // ~20 s stream
    const long = send(first, true)
    await expect.poll(() => upstream.requests.length).toBe(1)
    // Past one lease length (15 s) the stream still holds the key's only slot, on both instances.
    await new Promise(r => setTimeout(r, 16_000))
    expect((await send(second)).status).toBe(429)
    expect((await long).status).toBe(200)
  }, 40_000)

  it('SIGKILL mid-stream: the other instance serves the key again within 20 s', async () => {
    // The last test's stream gives its slot back when its usage is recorded, just after its end.
    await expect.poll(() => first.redis.zcount(`lease:${keyId}`, Date.now(), '+inf')).toBe(0)
    upstream.reset()
    upstream.behaviour = { ...upstream.behaviour, delayMs: 1000, deltas: 60 }
    void send(first, true).catch(() => null)
    await expect.poll(() => upstream.requests.length).toBe(1)
    expect((await send(second)).status).toBe(429)
    await first.kill('SIGKILL')
    const killedAt = Date.now()
    upstream.behaviour.delayMs = 0
    let status = 0
    while (Date.now() - killedAt < 25_000) {
      status = (await send(second)).status
      if (status === 200) break
      await new Promise(r => setTimeout(r, 250))
    }
    expect(status).toBe(200)
    console.log('instance SIGKILL: the key served again on the other instance after', Date.now() - killedAt, 'ms')
    expect(Date.now() - killedAt).toBeLessThan(20_000)
  }, 40_000)
})
