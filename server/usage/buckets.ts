import type { Usage } from './types'

/**
 * Usage is kept in time buckets — one Redis hash per hour, day, month, plus an all-time hash —
 * whose fields are the dimensions one request touches:
 *   `*` (everything), `k:{keyId}`, `km:{keyId}:{model}`, `a:{accountId}`, `am:{accountId}:{model}`,
 *   `m:{model}`, and in hour buckets `t:{MM}` (the minute, for RPM/TPM)
 * and whose values are packed counters "requests,input,output,cache5m,cache1h,cacheRead,costMicros,aborted".
 * One request then updates every dimension of a bucket with two commands (HMGET + HSET inside
 * the recordUsage script), whatever the number of counters: 8 commands for all four buckets.
 */
export interface Counters {
  requests: number
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
  /** Integer micro-USD. */
  costMicros: number
  aborted: number
}

export const COUNTER_NAMES = ['requests', 'inputTokens', 'outputTokens', 'cacheCreate5m', 'cacheCreate1h', 'cacheRead', 'costMicros', 'aborted'] as const

export const zeroCounters = (): Counters => ({ requests: 0, inputTokens: 0, outputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0, costMicros: 0, aborted: 0 })

/** "1,25,17,0,0,0,1234,0" → Counters (missing or malformed parts read as 0). */
export function unpack(packed: string | null | undefined): Counters {
  const c = zeroCounters()
  if (!packed) return c
  const parts = packed.split(',')
  for (let i = 0; i < COUNTER_NAMES.length; i++) c[COUNTER_NAMES[i]!] = Number(parts[i]) || 0
  return c
}

/** Add a packed value into `into` without allocating (stats sum tens of thousands of these). */
export function addPacked(into: Counters, packed: string): Counters {
  let n = 0
  let idx = 0
  for (let p = 0; p <= packed.length && idx < COUNTER_NAMES.length; p++) {
    const c = p < packed.length ? packed.charCodeAt(p) : 44
    if (c === 44) {
      into[COUNTER_NAMES[idx++]!] += n
      n = 0
    }
    else if (c >= 48 && c <= 57) n = n * 10 + (c - 48)
  }
  return into
}

/** The packed delta one request adds. */
export function packDelta(usage: Usage, costMicros: number, aborted: boolean): string {
  return `1,${usage.inputTokens},${usage.outputTokens},${usage.cacheCreate5m},${usage.cacheCreate1h},${usage.cacheRead},${costMicros},${aborted ? 1 : 0}`
}

/** Sum counters (for ranges of buckets). */
export function addCounters(into: Counters, c: Counters): Counters {
  for (const n of COUNTER_NAMES) into[n] += c[n]
  return into
}

/** Every token a request used: what `tokenLimit` and window token limits count. */
export const totalTokens = (c: Pick<Counters, 'inputTokens' | 'outputTokens' | 'cacheCreate5m' | 'cacheCreate1h' | 'cacheRead'>) =>
  c.inputTokens + c.outputTokens + c.cacheCreate5m + c.cacheCreate1h + c.cacheRead

/** Field names of the dimensions. */
export const dim = {
  all: '*',
  key: (keyId: string) => `k:${keyId}`,
  keyModel: (keyId: string, model: string) => `km:${keyId}:${model}`,
  account: (accountId: string) => `a:${accountId}`,
  /** Per account and model: the prompt-cache ledger prices an account's tokens model by model. */
  accountModel: (accountId: string, model: string) => `am:${accountId}:${model}`,
  model: (model: string) => `m:${model}`,
  /** A minute's field in its hour bucket ("2026-11-29T08:15" → `t:15`). */
  minute: (minuteId: string) => `t:${minuteId.slice(14, 16)}`,
} as const

/** Bucket ids in UTC: minute "2026-11-29T08:15", hour "2026-11-29T08", day "2026-11-29", month "2026-11". */
export const bucketIds = (d: Date) => {
  const iso = d.toISOString()
  return { minute: iso.slice(0, 16), hour: iso.slice(0, 13), day: iso.slice(0, 10), month: iso.slice(0, 7) }
}

/** How long buckets live: hours 7 days (+1 of slack), days 90 (+1), months ~13. */
export const BUCKET_TTL_SECONDS = { hour: 8 * 86_400, day: 91 * 86_400, month: 400 * 86_400 } as const

/** Monday 00:00 UTC of d's ISO week, as "YYYY-MM-DD": the weekly cost counter's id. */
export function weekId(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day)).toISOString().slice(0, 10)
}
