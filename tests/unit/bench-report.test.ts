import { describe, expect, it } from 'vitest'
import { type ScenarioResult, table, type Target } from '../../bench/report'

const scenario = (target: Target, reqPerSec: number, cpu: { relay?: number, redis?: number } = {}, commandsPerReq = 0): ScenarioResult => ({
  target, mode: 'non-stream', concurrency: 32,
  load: { completed: reqPerSec * 5, errors: 0, errorSamples: [], sent: reqPerSec * 6, windowMs: 5000, reqPerSec, latencyMs: { p50: 2, p99: 8, max: 20 }, ttfbMs: { p50: 2, p99: 8 } },
  cpuMsPerReq: { relay: cpu.relay ?? 0, redis: cpu.redis ?? 0, upstream: 0.04, loadgen: 0.04 },
  redis: { commandsPerReq, roundTripsPerReq: commandsPerReq ? 0.2 : 0, byCommandPerReq: {} },
  relayRssMaxMB: target === 'direct' ? 0 : 150,
})

describe('npm run bench report', () => {
  const results = [
    scenario('direct', 20_000),
    scenario('relay', 2_500, { relay: 0.4, redis: 0.09 }, 16),
    scenario('floor', 8_000, { relay: 0.08 }),
  ]

  it('reads the relay against the bare Node proxy measured in the same run', () => {
    const lines = table(results, ['non-stream'], [32]).split('\n')
    const floorRow = lines.find(l => /^\s+floor\s/.test(l))!
    // The floor's own CPU and RSS show; it has no Redis, so those columns stay empty.
    expect(floorRow.split(/\s+/).filter(Boolean)).toEqual(['floor', '8000', '2.00', '8.00', '2.00', '8.00', '0.080', '–', '0.040', '0.040', '–', '–', '150', '0'])
    expect(lines.find(l => l.includes('bare Node proxy'))).toContain('throughput 0.40x of direct, 0.080 cpu ms/req — the relay uses 5.0x the floor\'s CPU (+0.320 ms/req, Redis aside)')
  })
})
