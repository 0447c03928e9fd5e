import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { startedServer } from '../helpers/server'

// Issue 13: usage is read from the upstream side. A client that reads slowly and then leaves
// leaves the rest of the answer — its final usage included — in the relay's buffers; that usage is
// what the upstream reported and what the key is charged, not what reached the client.

const upstream = new FakeAnthropic()
beforeAll(() => upstream.start())
afterAll(() => upstream.stop())
const server = startedServer()
beforeAll(() => server.createConsoleAccount(upstream.url))

/** POST a stream, read one chunk, stop reading for `stallMs`, then hang up. */
function readOneChunkThenLeave(apiKey: string, stallMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = messageBody({ stream: true })
    const req = request(`${server.url}/api/v1/messages`, {
      method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.once('data', (chunk: Buffer) => {
        res.pause()
        setTimeout(() => {
          req.destroy()
          resolve(chunk.length)
        }, stallMs)
      })
    })
    req.on('error', () => { /* destroyed on purpose */ })
    req.once('error', reject)
    req.end(body)
  })
}

describe('a slow reader that leaves', () => {
  it('is charged the output the upstream reported (318), not the 1 token of what it read', async () => {
    const { id, apiKey } = await server.createKey({ name: 'slow reader' })
    // ~20 MB of deltas sent at once: more than the sockets' buffers hold, so the relay must wait on the client.
    upstream.behaviour = { ...upstream.behaviour, deltas: 200_000, usage: { input_tokens: 40, output_tokens: 318 } }
    await readOneChunkThenLeave(apiKey, 400)
    await expect.poll(async () => {
      const u = (await server.admin<{ usage: { total: { requests: number, outputTokens: number, aborted: number } } }>('GET', `/api/admin/api-keys/${id}/usage`)).body.usage.total
      return u
    }, { timeout: 5000 }).toMatchObject({ requests: 1, outputTokens: 318, aborted: 1 })
  })
})
