import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { messageBody, rawRequest } from '../helpers/client'
import { startedServer } from '../helpers/server'

// Issue 13: hostile upstream streams. An upstream (compromised, buggy, or a gateway in between)
// sends a 10 MB single SSE line, events without data, invalid UTF-8, absurd or negative token
// counts, a message_delta before message_start, or closes mid-event. The client gets the bytes as
// relayed (or a clean error event), usage records only plausible numbers, the account stays in the
// pool, other tenants are served meanwhile, and the process stays healthy.

const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
const start = (usage: object) => ev('message_start', { message: { id: 'msg_h', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage } })
const delta = (usage: object) => ev('message_delta', { delta: { stop_reason: 'end_turn' }, usage })
const text = (t: string) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } })

/** What the hostile upstream sends for a request whose body names the scenario. */
const SCENARIOS: Record<string, (string | Buffer)[]> = {
  'huge-line': [start({ input_tokens: 10, output_tokens: 1 }), text('x'.repeat(10 * 1024 * 1024)), delta({ output_tokens: 50 }), ev('message_stop', {})],
  'odd-events': [
    'event: ping\n\n', ': a comment\n\n', start({ input_tokens: -5, output_tokens: 1 }),
    Buffer.concat([Buffer.from('event: content_block_delta\ndata: {"type":"content_block_delta","text":"'), Buffer.from([0xFF, 0xC0, 0xE0]), Buffer.from('"}\n\n')]),
    delta({ output_tokens: 1e15 }), ev('message_stop', {}),
  ],
  'delta-first': [delta({ output_tokens: 30 }), start({ input_tokens: 12, output_tokens: 1 }), ev('message_stop', {})],
}

let hits = 0
const upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', async () => {
    hits++
    const body = Buffer.concat(chunks).toString('utf8')
    const name = /SCENARIO:([\w-]+)/.exec(body)?.[1]
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    if (name === 'cut-mid-event') {
      res.write(start({ input_tokens: 7, output_tokens: 1 }))
      res.write('event: content_block_delta\ndata: {"type":"content_bl')
      await new Promise(r => setTimeout(r, 50))
      return void res.socket?.destroy()
    }
    const parts = name ? SCENARIOS[name]! : [start({ input_tokens: 3, output_tokens: 1 }), text('hi'), delta({ output_tokens: 2 }), ev('message_stop', {})]
    for (const p of parts) res.write(p)
    res.end()
  })
})
let upstreamUrl = ''
beforeAll(async () => {
  await new Promise<void>(r => upstream.listen(0, '127.0.0.1', r))
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
})
afterAll(async () => {
  upstream.closeAllConnections()
  await new Promise(r => upstream.close(r))
})

const server = startedServer({ ACCOUNT_COOLDOWN_SECONDS: '300' })
let accountId = ''
beforeAll(async () => {
  accountId = (await server.createConsoleAccount(upstreamUrl)).id
})

const send = (apiKey: string, scenario?: string) => rawRequest(`${server.url}/api/v1/messages`, {
  headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
  body: messageBody({ stream: true, metadata: { user_id: scenario ? `SCENARIO:${scenario}` : 'plain' } }),
})
const usageOf = async (id: string) => (await server.admin<{ usage: { total: { requests: number, inputTokens: number, outputTokens: number, aborted: number } } }>('GET', `/api/admin/api-keys/${id}/usage`)).body.usage.total
const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex')

describe('hostile upstream streams', () => {
  it('a 10 MB single line: relayed byte for byte, usage from message_delta, the account stays active, another tenant is served meanwhile', async () => {
    const hostile = await server.createKey({ name: 'huge line' })
    const other = await server.createKey({ name: 'other tenant' })
    const [huge, normal] = await Promise.all([send(hostile.apiKey, 'huge-line'), send(other.apiKey)])
    expect(huge.status).toBe(200)
    expect(sha(huge.body)).toBe(sha(Buffer.concat(SCENARIOS['huge-line']!.map(p => Buffer.from(p))).toString('utf8')))
    expect(normal.status).toBe(200)
    await expect.poll(() => usageOf(hostile.id)).toMatchObject({ requests: 1, inputTokens: 10, outputTokens: 50, aborted: 0 })
    const view = await server.admin<{ status: { state: string } }>('GET', `/api/admin/claude-accounts/${accountId}`)
    expect(view.body.status.state).toBe('active')
  })

  it('events without data, invalid UTF-8, negative and absurd counts: relayed as sent, only plausible numbers recorded', async () => {
    const k = await server.createKey({ name: 'odd events' })
    const res = await send(k.apiKey, 'odd-events')
    expect(res.status).toBe(200)
    expect(res.body).toContain('event: ping')
    await expect.poll(() => usageOf(k.id)).toMatchObject({ requests: 1, inputTokens: 0, outputTokens: 1 })
  })

  it('a message_delta before message_start still counts both', async () => {
    const k = await server.createKey({ name: 'delta first' })
    expect((await send(k.apiKey, 'delta-first')).status).toBe(200)
    await expect.poll(() => usageOf(k.id)).toMatchObject({ requests: 1, inputTokens: 12, outputTokens: 30 })
  })

  it('an upstream that closes mid-event: the client gets an SSE error event, the request is recorded as aborted with what was seen', async () => {
    const k = await server.createKey({ name: 'cut' })
    const res = await send(k.apiKey, 'cut-mid-event')
    expect(res.status).toBe(200)
    expect(res.body).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error"/)
    await expect.poll(() => usageOf(k.id)).toMatchObject({ requests: 1, inputTokens: 7, aborted: 1 })
  })

  it('the process stayed healthy throughout', async () => {
    expect(hits).toBeGreaterThanOrEqual(5)
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
    expect(server.output).not.toMatch(/\n\s+at \S+ \(/)
  })
})
