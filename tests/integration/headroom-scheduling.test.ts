import { afterAll, describe, expect, it } from 'vitest'
import { type WindowOptions, WindowedAnthropic } from '../fixtures/windowed-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'

// Issue 17 §2, measured: three subscription accounts whose 5-hour windows start at different
// utilisations and reset at different times (each a fake that enforces its window and reports it in
// the unified rate-limit headers), four keys sending a steady load of distinct conversations. The
// same load runs once with least-recently-used scheduling and once window-aware; the table goes in
// the closing note.

const HOUR = 3600
const ACCOUNTS: [string, WindowOptions][] = [
  ['early-reset', { capacity: 100, startUtilization: 0.85, resetInSeconds: 1 * HOUR }],
  ['half-used', { capacity: 100, startUtilization: 0.5, resetInSeconds: 3 * HOUR }],
  ['fresh', { capacity: 100, startUtilization: 0.2, resetInSeconds: 4.5 * HOUR }],
]
const KEYS = 4
const PER_KEY = 30

interface Run { mode: string, sent: number, clientOk: number, upstream429: number, servedBeforeFirst429: number, servedBy: Record<string, number> }

async function simulate(mode: 'lru' | 'headroom'): Promise<Run> {
  const log: string[] = []
  const upstreams = ACCOUNTS.map(([name, o]) => new WindowedAnthropic(name, o, log))
  await Promise.all(upstreams.map(u => u.start()))
  const server = await new TestServer({ ACCOUNT_SCHEDULING: mode, STICKY_SESSION_TTL_SECONDS: '3600' }).start()
  try {
    for (const u of upstreams) await server.createConsoleAccount(u.url, { name: u.name, priority: 10 })
    const keys = await Promise.all(Array.from({ length: KEYS }, (_, i) => server.createKey({ name: `load ${i}` })))
    let clientOk = 0
    await Promise.all(keys.map(async ({ apiKey }, k) => {
      for (let i = 0; i < PER_KEY; i++) {
        const res = await fetch(`${server.url}/api/v1/messages`, {
          method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
          // Each request its own conversation, so stickiness does not decide.
          body: messageBody({ messages: [{ role: 'user', content: `key ${k} request ${i}` }] }),
        })
        await res.arrayBuffer()
        if (res.status === 200) clientOk++
      }
    }))
    const first429 = log.findIndex(e => e.endsWith(':429'))
    return {
      mode, sent: KEYS * PER_KEY, clientOk,
      upstream429: upstreams.reduce((n, u) => n + u.rejected, 0),
      servedBeforeFirst429: first429 === -1 ? log.length : first429,
      servedBy: Object.fromEntries(upstreams.map(u => [u.name, u.served])),
    }
  }
  finally {
    await server.stop()
    await Promise.all(upstreams.map(u => u.stop()))
  }
}

describe('window-aware scheduling against least recently used', () => {
  const runs: Run[] = []
  afterAll(() => {
    console.log(`\n${['mode', 'sent', 'client 200', 'upstream 429s', 'served before first 429', ...ACCOUNTS.map(([n]) => `served by ${n}`)].join(' | ')}`)
    for (const r of runs) console.log([r.mode, r.sent, r.clientOk, r.upstream429, r.servedBeforeFirst429, ...ACCOUNTS.map(([n]) => r.servedBy[n])].join(' | '))
  })

  it('drains the windows evenly: fewer 429s, and more requests served before the first', async () => {
    const lru = await simulate('lru')
    const paced = await simulate('headroom')
    runs.push(lru, paced)
    // 145 requests fit in the three windows (130 below 95 %); 120 are sent. LRU runs the
    // early-reset account (15 left) dry after about 45 requests and the half-used one later;
    // window-aware keeps every account below 95 % while another has room, so none is exhausted.
    expect(lru.upstream429).toBeGreaterThanOrEqual(1)
    expect(lru.servedBeforeFirst429).toBeLessThan(60)
    expect(paced.upstream429).toBe(0)
    expect(paced.servedBeforeFirst429).toBe(paced.sent)
    expect(paced.clientOk).toBe(paced.sent)
  })
})
