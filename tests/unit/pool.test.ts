import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { createConnector } from '../../server/upstream/connect'
import { AccountPool, type PoolEvent, type PoolOptions, reconnectDelay } from '../../server/upstream/pool'

const OPTS: PoolOptions = { warm: 3, max: 5, idleMs: 60_000, maxAgeMs: 600_000, backoffMaxMs: 16_000 }

/** A local HTTP server that records which client port each request came from; `holdMs` delays answers. */
class Upstream {
  readonly ports: number[] = []
  readonly sockets = new Set<Socket>()
  connections = 0
  holdMs = 0
  port = 0
  private server: Server = this.make()

  private make() {
    return createServer((req, res) => {
      this.ports.push(req.socket.remotePort!)
      req.resume()
      req.on('end', () => setTimeout(() => res.end('ok'), this.holdMs))
    }).on('connection', (s: Socket) => {
      this.connections++
      this.sockets.add(s)
      s.on('close', () => this.sockets.delete(s))
    })
  }

  async start(port = 0) {
    await new Promise<void>(r => this.server.listen(port, '127.0.0.1', r))
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async stop() {
    for (const s of this.sockets) s.destroy()
    await new Promise(r => this.server.close(r))
    this.server = this.make()
  }

  get origin() {
    return `http://127.0.0.1:${this.port}`
  }
}

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c()
})

async function setup(opts: Partial<PoolOptions> = {}) {
  const up = await new Upstream().start()
  const events: PoolEvent[] = []
  const pool = new AccountPool('acct', null, up.origin, { ...OPTS, ...opts }, createConnector(null), e => events.push(e))
  cleanup.push(() => up.stop(), () => pool.close())
  return { up, pool, events }
}

/** Poll until `read()` gives `want` (or 2 s pass), then return what it gives. */
async function settle<T>(read: () => T, want: T): Promise<T> {
  const until = Date.now() + 2000
  while (read() !== want && Date.now() < until) await new Promise(r => setTimeout(r, 10))
  return read()
}

const post = async (pool: AccountPool, origin: string) => {
  const res = await request(`${origin}/v1/messages`, { method: 'POST', body: '{}', dispatcher: pool })
  return res.body.text()
}

describe('reconnect backoff', () => {
  it('waits 1, 2, 4, 8, 16 s, then stays at the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(n => reconnectDelay(n, 16_000))).toEqual([1000, 2000, 4000, 8000, 16_000, 16_000, 16_000])
    expect(reconnectDelay(4, 5000)).toBe(5000)
  })
})

describe('AccountPool', () => {
  it('opens the warm connections before any request, and requests use them without opening more', async () => {
    const { up, pool, events } = await setup()
    await pool.api.warmUp()
    expect(await settle(() => up.connections, 3)).toBe(3)
    expect(pool.api.stats()).toMatchObject({ open: 3, idle: 3, busy: 0, size: 3, warmTarget: 3 })
    expect(events.filter(e => e === 'connected')).toHaveLength(3)
    for (let i = 0; i < 6; i++) expect(await post(pool, up.origin)).toBe('ok')
    expect(up.connections).toBe(3)
  })

  it('takes free connections round-robin', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    for (let i = 0; i < 6; i++) await post(pool, up.origin)
    const [a, b, c] = up.ports
    expect(new Set([a, b, c]).size).toBe(3)
    expect(up.ports.slice(3)).toEqual([a, b, c])
  })

  it('grows on demand up to max under concurrency, then queues; extra connections close when idle', async () => {
    const { up, pool } = await setup({ warm: 1, max: 3, idleMs: 50 })
    await pool.api.warmUp()
    up.holdMs = 150
    const inflight = Array.from({ length: 6 }, () => post(pool, up.origin))
    await new Promise(r => setTimeout(r, 60))
    expect(pool.api.stats()).toMatchObject({ size: 3, busy: 3, queued: 3 })
    expect(await Promise.all(inflight)).toEqual(Array(6).fill('ok'))
    expect(up.connections).toBe(3)
    await new Promise(r => setTimeout(r, 80))
    await pool.api.maintain()
    // The warm slot stays; the two on-demand ones closed.
    expect(pool.api.stats()).toMatchObject({ size: 1, open: 1 })
  })

  it('rotates connections older than maxAge, never one in use', async () => {
    const { up, pool } = await setup({ warm: 2, maxAgeMs: 1000 })
    await pool.api.warmUp()
    up.holdMs = 300
    const busy = post(pool, up.origin)
    await new Promise(r => setTimeout(r, 50))
    await pool.api.maintain(Date.now() + 5000)
    // The idle one was replaced (and the replacement warmed); the busy one is still serving.
    expect(pool.api.stats().counters.rotated).toBe(1)
    expect(await busy).toBe('ok')
    await new Promise(r => setTimeout(r, 50))
    expect(up.connections).toBe(3)
    expect(pool.api.stats()).toMatchObject({ size: 2, open: 2 })
  })

  it('a warm connection the server closes is reopened at once', async () => {
    const { up, pool } = await setup({ warm: 2 })
    await pool.api.warmUp()
    expect(await settle(() => up.connections, 2)).toBe(2)
    for (const s of up.sockets) s.destroy()
    expect(await settle(() => up.connections, 4)).toBe(4)
    expect(pool.api.stats()).toMatchObject({ open: 2, healthy: true })
    expect(pool.api.stats().counters.disconnects).toBe(2)
  })

  it('reconnects with backoff when the upstream was down, and reports it', async () => {
    const { up, pool, events } = await setup({ warm: 1, backoffMaxMs: 200 })
    const port = up.port
    await up.stop()
    const warming = pool.api.warmUp()
    await new Promise(r => setTimeout(r, 120))
    expect(pool.api.stats()).toMatchObject({ open: 0, healthy: false })
    expect(pool.api.stats().lastError?.message).toMatch(/ECONNREFUSED/)
    // A request meanwhile fails fast with the connection error (the scheduler fails over on it).
    await expect(post(pool, up.origin)).rejects.toThrow()
    await up.start(port)
    await warming
    expect(pool.api.stats()).toMatchObject({ open: 1, healthy: true })
    expect(pool.api.stats().counters.reconnects).toBeGreaterThanOrEqual(1)
    expect(events).toContain('reconnected')
    expect(await post(pool, up.origin)).toBe('ok')
  })

  it('another origin (a token endpoint) gets an on-demand pool without warm connections', async () => {
    const { up, pool } = await setup({ warm: 1 })
    const other = await new Upstream().start()
    cleanup.push(() => other.stop())
    await pool.api.warmUp()
    expect(await post(pool, other.origin)).toBe('ok')
    expect(other.connections).toBe(1)
    expect([...pool.origins.keys()].sort()).toEqual([up.origin, other.origin].sort())
    expect(pool.origins.get(other.origin)!.warmTarget).toBe(0)
  })

  it('close() closes every connection', async () => {
    const { up, pool } = await setup()
    await pool.api.warmUp()
    await post(pool, up.origin)
    await pool.close()
    await new Promise(r => setTimeout(r, 50))
    expect(up.sockets.size).toBe(0)
  })
})
