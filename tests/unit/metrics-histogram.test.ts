import { Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { plainHistogram } from '../../server/metrics'

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]

/** The same observations through prom-client's Histogram and through plainHistogram: the scrapes must read the same. */
async function both(labelName: string | null, observations: [string, number][]) {
  const theirs = new Registry()
  const ours = new Registry()
  const h = new Histogram({ name: 'x_seconds', help: 'help text', labelNames: labelName ? [labelName] : [], buckets: BUCKETS, registers: [theirs] })
  const observe = plainHistogram(ours, 'x_seconds', 'help text', labelName, BUCKETS)
  for (const [label, v] of observations) {
    if (labelName) h.observe({ [labelName]: label }, v)
    else h.observe(v)
    observe(label, v)
  }
  return { theirs: await theirs.metrics(), ours: await ours.metrics(), reset: () => ours.resetMetrics(), ourRegistry: ours }
}

describe('plainHistogram (per-request histograms kept in plain arrays)', () => {
  it('scrapes exactly as prom-client\'s Histogram for the same observations, label by label', async () => {
    // Values on bucket bounds, between them, below the first and past the last.
    const obs: [string, number][] = [['claude', 0.005], ['claude', 0.0051], ['gemini', 0.2], ['claude', 1], ['claude', 450], ['gemini', 0], ['claude', 0.26]]
    const { theirs, ours } = await both('platform', obs)
    expect(ours).toBe(theirs)
    expect(ours).toContain('x_seconds_bucket{le="0.005",platform="claude"} 1')
    expect(ours).toContain('x_seconds_bucket{le="+Inf",platform="claude"} 5')
    expect(ours).toContain('x_seconds_count{platform="gemini"} 2')
  })

  it('scrapes the same without a label, and counts on across scrapes', async () => {
    const { theirs, ours, ourRegistry } = await both(null, [['', 0.03], ['', 12], ['', 0.03]])
    expect(ours).toBe(theirs)
    expect(await ourRegistry.metrics()).toBe(ours) // a scrape does not reset
  })

  it('reads empty after a registry reset', async () => {
    const { reset, ourRegistry } = await both('op', [['admit', 0.001]])
    reset()
    expect(await ourRegistry.metrics()).toBe('# HELP x_seconds help text\n# TYPE x_seconds histogram\n')
  })
})
