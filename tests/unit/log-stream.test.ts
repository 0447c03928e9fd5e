import { describe, expect, it } from 'vitest'
import { LOG_LEVEL_NAMES, logDetails } from '../../composables/useLogStream'

// The logs page's line rendering (composables/useLogStream.ts; the stream itself runs in the browser test).
describe('log lines', () => {
  it('shows the fields beyond the standard ones as k=v, objects as JSON', () => {
    const line = { level: 30, time: '2026-11-29T08:05:09.123Z', msg: 'request', pid: 1, hostname: 'h', reqId: 'r1', status: 200, tokens: { in: 3 } }
    expect(logDetails(line)).toBe('reqId=r1 status=200 tokens={"in":3}')
    expect(logDetails({ level: 50, time: '', msg: 'x' })).toBe('')
  })

  it('names pino levels', () => {
    expect([10, 20, 30, 40, 50, 60].map(n => LOG_LEVEL_NAMES[n])).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
  })
})
