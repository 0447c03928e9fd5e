import { describe, expect, it } from 'vitest'
import {
  allTokens, bucketLabel, bucketStart, formatAgo, formatAmount, formatCount, formatCountdown, formatDateTime, formatDay, formatDuration,
  formatLogTime, formatMetric, formatMinutesLeft, formatPercent, formatPrice, formatTokens, formatUsd, limitProgress, rangeQuery, usdFromMicros,
} from '../../utils/format'

describe('percent (the cache hit rate)', () => {
  it.each([
    [null, 'en', '—'], // no prompt tokens: no rate
    [0, 'en', '0%'],
    [1, 'en', '100%'],
    [6000 / 9300, 'en', '64.5%'],
    [0.25, 'zh-CN', '25%'],
  ] as const)('formatPercent(%s, %s) = %s', (ratio, locale, text) => {
    expect(formatPercent(ratio, locale)).toBe(text)
  })
})

describe('money', () => {
  it.each([
    [0, '$0.00'],
    [1_234_567, '$1.23'],
    [1_000_000, '$1.00'],
    [375, '$0.000375'], // under a cent keeps its digits
    [9_999, '$0.009999'],
    [10_000, '$0.01'],
    [123_456_789_000, '$123,456.79'],
  ])('usdFromMicros(%s) = %s', (micros, text) => {
    expect(usdFromMicros(micros)).toBe(text)
  })

  // One rule for every screen (the keys page and the dashboard once disagreed on $0.00123).
  it.each([
    [12.5, '$12.50'],
    [0, '$0.00'],
    [0.00123, '$0.00123'], // under a cent: significant digits, never "$0.00"
    [0.5, '$0.50'],
    [0.0123, '$0.01'],
    [1234.567, '$1,234.57'],
    [-0.004, '-$0.004'],
  ])('formatUsd(%s) = %s', (usd, text) => {
    expect(formatUsd(usd)).toBe(text)
  })

  it('shows the same cost the same way from USD and from micro-USD', () => {
    for (const micros of [0, 375, 1230, 9_999, 10_000, 1_234_567]) expect(usdFromMicros(micros)).toBe(formatUsd(micros / 1e6))
  })

  it('formats USD in Chinese with the dollar sign, not ¥', () => {
    expect(formatUsd(2.5, 'zh-CN')).toBe('$2.50')
  })

  it.each([
    [3, '$3.00'],
    [0.3, '$0.30'],
    [0.075, '$0.075'],
    [3.75, '$3.75'],
    [0.00001, '$0.00'],
  ])('formatPrice(%s) per million = %s', (usd, text) => {
    expect(formatPrice(usd)).toBe(text)
  })
})

describe('counts', () => {
  it.each([
    [0, '0'],
    [999, '999'],
    [9_999, '9,999'],
    [12_345, '12.3K'],
    [2_500_000, '2.5M'],
  ])('formatTokens(%s) = %s', (n, text) => {
    expect(formatTokens(n)).toBe(text)
  })

  it('compacts tokens the Chinese way (万)', () => {
    expect(formatTokens(12_345, 'zh-CN')).toBe('1.2万')
  })

  it('groups counts and keeps one decimal (RPM)', () => {
    expect(formatCount(1234567)).toBe('1,234,567')
    expect(formatCount(0.6)).toBe('0.6')
  })

  it.each([
    [3, 'requests', '3'],
    [25_000, 'tokens', '25K'],
    [0.5, 'cost', '$0.50'],
  ] as const)('formatMetric(%s, %s) = %s', (v, metric, text) => {
    expect(formatMetric(v, metric)).toBe(text)
  })

  it.each([
    [1234, 'count', '1,234'],
    [25_000, 'tokens', '25K'],
    [1.5, 'usd', '$1.50'],
  ] as const)('formatAmount(%s, %s) = %s', (v, unit, text) => {
    expect(formatAmount(v, unit)).toBe(text)
  })

  it('sums every token kind, cache writes of both lifetimes included', () => {
    expect(allTokens({ inputTokens: 1, outputTokens: 20, cacheCreate5m: 300, cacheCreate1h: 4000, cacheRead: 50000 })).toBe(54321)
  })
})

describe('durations', () => {
  it.each([
    [0, '0s'],
    [42, '42s'],
    [60, '1m'],
    [3_725, '1h 2m'],
    [3_600 + 5, '1h'], // the two largest units only; seconds drop off after an hour
    [93_784, '1d 2h'],
    [86_400 + 59, '1d'],
    [-5, '0s'],
  ])('formatDuration(%s) = %s', (s, text) => {
    expect(formatDuration(s)).toBe(text)
  })

  it.each([[0, '0:00'], [999, '0:00'], [1000, '0:01'], [60_000, '1:00'], [3_600_999, '1:00:00'], [90_061_000, '1d 01:01:01'], [-5000, '0:00']])('formatCountdown(%d ms) = %s', (ms, text) => {
    expect(formatCountdown(ms)).toBe(text)
  })

  it.each([
    [-30_000, '30 seconds ago'],
    [-5 * 60_000, '5 minutes ago'],
    [2 * 3_600_000, 'in 2 hours'],
    [-3 * 86_400_000, '3 days ago'],
  ])('formatAgo(now %+d ms) = %s', (offset, text) => {
    const now = Date.parse('2026-11-29T12:00:00Z')
    expect(formatAgo(new Date(now + offset).toISOString(), 'en', now)).toBe(text)
  })

  it.each([
    [-20_000, 'en', 'this minute'],
    [-40_000, 'en', '1 minute ago'],
    [-3 * 60_000, 'en', '3 minutes ago'],
    [-3 * 60_000, 'zh-CN', '3分钟前'],
    [-2 * 3_600_000, 'en', '2 hours ago'],
  ])('formatAgo(now %+d ms, %s, minutes at least) = %s', (offset, locale, text) => {
    const now = Date.parse('2026-11-29T12:00:00Z')
    expect(formatAgo(new Date(now + offset).toISOString(), locale, now, 'minute')).toBe(text)
  })

  it.each([
    [0, null], // passed: the caller says "reset"
    [-60_000, null],
    [1, '1m'], // rounded up: the last seconds still count a minute
    [60_000, '1m'],
    [60_001, '2m'],
    [(2 * 60 + 14) * 60_000, '2h 14m'],
    [(2 * 60 + 5) * 60_000 - 30_000, '2h 05m'],
    [3_600_000, '1h 00m'],
    [(26 * 60 + 59) * 60_000 + 1, '1d 3h'],
  ])('formatMinutesLeft(%d ms) = %s', (ms, text) => {
    expect(formatMinutesLeft(ms)).toBe(text)
  })

  it('takes unit names (the UI passes translated ones)', () => {
    expect(formatMinutesLeft(134 * 60_000, (u, n) => `${n} ${{ d: '天', h: '小时', m: '分钟', s: '秒' }[u]}`)).toBe('2 小时 14 分钟')
    expect(formatDuration(93_784, { d: '天', h: '小时', m: '分', s: '秒' })).toBe('1天 2小时')
  })
})

describe('limit progress', () => {
  it.each([
    [5, 0, null], // 0 = no limit
    [5, -1, null],
    [0, 10, { percent: 0, level: 'ok' }],
    [7.9, 10, { percent: 79, level: 'ok' }],
    [8, 10, { percent: 80, level: 'warn' }],
    [10, 10, { percent: 100, level: 'over' }],
    [15, 10, { percent: 100, level: 'over' }], // overrun is capped at a full bar
    [1, 3, { percent: 33.3, level: 'ok' }],
  ])('limitProgress(%s, %s)', (used, limit, want) => {
    expect(limitProgress(used, limit)).toEqual(want)
  })
})

describe('buckets and dates', () => {
  it('reads hour and day bucket ids as UTC instants', () => {
    expect(bucketStart('2026-11-29T08').toISOString()).toBe('2026-11-29T08:00:00.000Z')
    expect(bucketStart('2026-11-29').toISOString()).toBe('2026-11-29T00:00:00.000Z')
  })

  it('labels hours in the viewer\'s zone and days as UTC days', () => {
    expect(bucketLabel('2026-11-29T23', 'hour', 'en', 'UTC')).toBe('11/29, 23:00')
    expect(bucketLabel('2026-11-29T23', 'hour', 'en', 'Asia/Shanghai')).toBe('11/30, 07:00')
    expect(bucketLabel('2026-11-29', 'day', 'en', 'Asia/Shanghai')).toBe('11/29')
  })

  it('builds a range ending now', () => {
    const now = new Date('2026-11-29T12:00:00Z')
    expect(rangeQuery(24, now)).toEqual({ from: '2026-11-28T12:00:00.000Z', to: '2026-11-29T12:00:00.000Z' })
  })

  it('shows a dash for a missing or broken date', () => {
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a date')).toBe('—')
    expect(formatDateTime('2026-11-29T08:05:00Z', 'en', 'UTC')).toBe('Nov 29, 2026, 8:05 AM')
    expect(formatDateTime(Date.parse('2026-11-29T08:05:00Z'), 'en', 'UTC')).toBe('Nov 29, 2026, 8:05 AM')
  })

  it('shows a log line\'s time as written, to the millisecond', () => {
    expect(formatLogTime('2026-11-29T08:05:09.123Z')).toBe('08:05:09.123')
    expect(formatLogTime(undefined)).toBe('')
  })

  it('names a UTC day with its weekday', () => {
    expect(formatDay('2026-11-29')).toBe('Sun, Nov 29')
  })
})
