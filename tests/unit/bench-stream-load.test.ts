import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientPool, runBurst } from '../../bench/stream-load'

// A stream of two SSE events, the last one message_stop; a connection's first answer waits 150 ms.
let server: Server
let origin = ''
beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const sock = req.socket as typeof req.socket & { answered?: boolean }
      const wait = sock.answered ? 0 : 150
      sock.answered = true
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.end('event: message_start\ndata: {}\n\nevent: message_stop\ndata: {}\n\n')
      }, wait)
    })
  })
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>(r => server.close(() => r())))

describe('bench:streams load', () => {
  it('groups the first bytes by wave: each client\'s k-th request in wave k', async () => {
    const pool = clientPool(origin, 4, 5000)
    try {
      const r = await runBurst({ pool, target: { origin, path: '/', headers: {} }, body: '{}', expect: { stream: true, events: 2 }, clients: 4, perClient: 3, capMs: 10_000 })
      expect(r.completed).toBe(12)
      expect(r.ttfbByWaveMs.map(w => w.length)).toEqual([4, 4, 4])
      // Only the first request on each connection waited.
      expect(Math.min(...r.ttfbByWaveMs[0]!)).toBeGreaterThanOrEqual(140)
      expect(Math.max(...r.ttfbByWaveMs[1]!, ...r.ttfbByWaveMs[2]!)).toBeLessThan(140)
      expect(r.ttfbMs).toEqual([...r.ttfbByWaveMs.flat()].sort((a, b) => a - b))
    }
    finally {
      await pool.destroy()
    }
  })
})
