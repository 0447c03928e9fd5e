import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic, sseEvents } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'

// SIGTERM while a stream is open: the stream completes, its usage is recorded, new connections
// are refused, and the process exits 0.
describe('graceful shutdown', () => {
  const upstream = new FakeAnthropic()
  let server: TestServer

  beforeAll(async () => {
    await upstream.start()
    server = await new TestServer({ NITRO_SHUTDOWN_TIMEOUT: '15000' }).start()
  })
  afterAll(async () => {
    await server?.stop()
    await upstream.stop()
  })

  it('drains an open stream, records it, then exits 0', async () => {
    await server.createConsoleAccount(upstream.url)
    const { id, apiKey } = await server.createKey({ name: 'drain' })
    upstream.behaviour.delayMs = 100
    upstream.behaviour.deltas = 15
    const expected = sseEvents(upstream.behaviour).join('')
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody({ stream: true }),
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    let body = Buffer.from((await reader.read()).value!).toString('utf8')

    const child = (server as unknown as { child: ChildProcess }).child
    const exited = new Promise<number | null>(r => child.once('exit', code => r(code)))
    child.kill('SIGTERM')
    await new Promise(r => setTimeout(r, 300))
    // No new connections while draining.
    await expect(fetch(`${server.url}/health`)).rejects.toThrow()

    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      body += Buffer.from(value).toString('utf8')
    }
    expect(body).toBe(expected)
    expect(await exited).toBe(0)
    const recent = (await server.redis.lrange(`usage:recent:${id}`, 0, -1)).map(r => JSON.parse(r) as { aborted: boolean, status: number })
    expect(recent).toHaveLength(1)
    expect(recent[0]).toMatchObject({ aborted: false, status: 200 })
    // Its concurrency lease (if any) and the request are gone from the in-flight set.
    expect(server.output).not.toMatch(/Graceful shutdown timeout/)
  })
})
