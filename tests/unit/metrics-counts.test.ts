import { describe, expect, it } from 'vitest'
import { activeRelays, observeRequest, registry } from '../../server/metrics'

const request = (over: Partial<Parameters<typeof observeRequest>[0]> = {}) => observeRequest({
  platform: 'claude', route: 'messages', status: 200, model: 'claude-sonnet-4-5', accountId: 'acc-1', durationMs: 120, ttfbMs: 40,
  usage: { inputTokens: 10, outputTokens: 5, cacheCreate5m: 2, cacheCreate1h: 1, cacheRead: 7 }, costMicros: 1500, aborted: false, ...over,
})

/** The value of one series in the exposition text (0 when absent). */
async function value(name: string, labels: string): Promise<number> {
  const line = (await registry.metrics()).split('\n').find(l => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)))
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0
}

describe('per-request metrics (counted in memory, moved into prom-client at scrape time)', () => {
  it('count every request under its own label set, cumulatively across scrapes', async () => {
    const ok = 'platform="claude",route="messages",status="200",model="claude-sonnet-4-5",account="acc-1"'
    const before = await value('crs_requests_total', ok)
    request()
    request()
    request({ status: 429, usage: null, costMicros: null })
    expect(await value('crs_requests_total', ok)).toBe(before + 2)
    expect(await value('crs_requests_total', ok.replace('200', '429'))).toBe(1)
    request()
    expect(await value('crs_requests_total', ok)).toBe(before + 3)
    expect(await value('crs_requests_total', ok)).toBe(before + 3)
  })

  it('add tokens by kind and cost per platform and model; count aborted requests', async () => {
    const m = 'platform="claude",model="claude-opus-4-1"'
    request({ model: 'claude-opus-4-1', aborted: true })
    request({ model: 'claude-opus-4-1', usage: { inputTokens: 1, outputTokens: 2, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 }, costMicros: 500 })
    expect(await value('crs_tokens_total', `${m},kind="input"`)).toBe(11)
    expect(await value('crs_tokens_total', `${m},kind="output"`)).toBe(7)
    expect(await value('crs_tokens_total', `${m},kind="cache_create"`)).toBe(3)
    expect(await value('crs_tokens_total', `${m},kind="cache_read"`)).toBe(7)
    expect(await value('crs_cost_usd_total', m)).toBeCloseTo(0.002, 9)
    expect(await value('crs_requests_aborted_total', 'platform="claude"')).toBeGreaterThanOrEqual(1)
  })

  it('show requests in flight as they start and end', async () => {
    const base = await value('crs_active_requests', '')
    activeRelays.inc()
    activeRelays.inc()
    expect(await value('crs_active_requests', '')).toBe(base + 2)
    activeRelays.dec()
    activeRelays.dec()
    expect(await value('crs_active_requests', '')).toBe(base)
  })
})
