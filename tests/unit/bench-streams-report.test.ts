import { describe, expect, it } from 'vitest'
import { checkStreamTargets, floorSummary, type StreamRow, streamsTable } from '../../bench/streams-report'

const row = (n: number, via: StreamRow['via'], round: number, streamsPerSec: number, ttfbP50: number, completed = 3 * n): StreamRow => ({
  n, via, round, started: 3 * n, completed, streamsPerSec, ttfbP50, ttfbP99: ttfbP50 * 4, ttfbP50ByWave: [ttfbP50 * 2, ttfbP50, ttfbP50 - 10], durationP50: 1300,
  relayRssMaxMB: via === 'direct' ? null : 200, relayCpuMsPerStream: via === 'direct' ? null : via === 'relay' ? 2.5 : 1, recorded: via === 'relay' ? completed : null,
  errors: 3 * n - completed, errorSamples: [], relayWarnLines: 0, upstreamConnects: via === 'relay' ? 6 : null, upstreamErrors: via === 'relay' ? 0 : null,
  queuedMax: via === 'relay' ? 0 : null, listenDrops: 0,
})

const check = (rows: StreamRow[], name: string) => checkStreamTargets(rows).find(c => c.name.startsWith(name))!

describe('bench:streams targets', () => {
  it('judges one round by its own direct run', () => {
    const rows = [row(1000, 'direct', 1, 400, 300), row(1000, 'relay', 1, 380, 380)]
    expect(check(rows, 'TTFB p50 relay − direct, N=1000')).toMatchObject({ value: 80, pass: true, measured: '+80 ms', issueTarget: true })
    expect(check(rows, 'throughput relay / direct, N=1000')).toMatchObject({ value: 0.95, pass: true, measured: '0.95×' })
    expect(check(rows, 'relay streams completed, N=1000')).toMatchObject({ pass: true, measured: '3000/3000', issueTarget: false })
  })

  it('pairs each relay run with the direct run of its round and takes the median over rounds', () => {
    // Per round: +250 ms / 0.70×, +50 ms / 0.95×, +90 ms / 0.92× → medians +90 ms and 0.92×.
    const rows = [
      row(1000, 'direct', 1, 400, 250), row(1000, 'relay', 1, 280, 500),
      row(1000, 'direct', 2, 300, 450), row(1000, 'relay', 2, 285, 500),
      row(1000, 'direct', 3, 350, 300), row(1000, 'relay', 3, 322, 390),
    ]
    const ttfb = check(rows, 'TTFB p50 relay − direct, N=1000')
    expect(ttfb.value).toBe(90)
    expect(ttfb.pass).toBe(true)
    expect(ttfb.measured).toBe('+90 ms (median of 3: +50 ms … +250 ms)')
    const tp = check(rows, 'throughput relay / direct, N=1000')
    expect(tp.value).toBeCloseTo(0.92, 5)
    expect(tp.pass).toBe(true)
    expect(tp.measured).toBe('0.92× (median of 3: 0.70× … 0.95×)')
  })

  it('fails a median past the limit, and counts completion over every round', () => {
    const rows = [
      row(2000, 'direct', 1, 500, 300), row(2000, 'relay', 1, 400, 500),
      row(2000, 'direct', 2, 500, 300), row(2000, 'relay', 2, 440, 420, 5999),
    ]
    expect(check(rows, 'TTFB p50 relay − direct, N=2000')).toMatchObject({ value: 160, pass: false })
    expect(check(rows, 'throughput relay / direct, N=2000')).toMatchObject({ pass: false })
    expect(check(rows, 'relay streams completed, N=2000')).toMatchObject({ measured: '11999/12000', pass: false, issueTarget: true })
  })

  it('prints the round of every row', () => {
    const table = streamsTable([row(1000, 'direct', 2, 400, 300), row(1000, 'relay', 2, 380, 380)], 3)
    expect(table.split('\n')[0]).toMatch(/^\s*N\s+round\s+target/)
    expect(table.split('\n').at(-1)).toMatch(/^1000\s+2\s+relay\s/)
  })

  it('reads the relay against the floor of each round', () => {
    const rows = [
      row(1000, 'direct', 1, 400, 200), row(1000, 'floor', 1, 400, 260), row(1000, 'relay', 1, 380, 450),
      row(1000, 'direct', 2, 400, 220), row(1000, 'floor', 2, 400, 300), { ...row(1000, 'relay', 2, 380, 420), relayCpuMsPerStream: 2 },
      row(2000, 'direct', 1, 400, 200), row(2000, 'relay', 1, 380, 450), // no floor at this N: no line
    ]
    expect(floorSummary(rows)).toEqual([
      'N=1000, bare Node proxy (floor): TTFB p50 +70 ms (median of 2: +60 ms … +80 ms) over direct, CPU-ms/stream 1.00 (median of 2: 1.00 … 1.00); '
      + 'the relay: TTFB p50 +225 ms (median of 2: +200 ms … +250 ms) over direct, 2.3× (median of 2: 2.0× … 2.5×) the floor\'s CPU per stream',
    ])
    // The floor never stands in for the relay in the issue's targets.
    expect(check(rows, 'TTFB p50 relay − direct, N=1000').value).toBe(225)
  })

  it('prints the TTFB p50 of each wave beside the overall one', () => {
    const lines = streamsTable([row(1000, 'relay', 1, 380, 380)], 3).split('\n')
    const col = lines[0]!.indexOf('TTFB p50 by wave')
    expect(col).toBeGreaterThan(lines[0]!.indexOf('TTFB p99'))
    expect(lines.at(-1)).toContain(' 760 / 380 / 370 ')
  })
})
