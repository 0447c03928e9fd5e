import type { Counters } from './buckets'
import { attoToMicros } from './money'
import type { PriceTable } from './pricing'

/** The token counters the prompt-cache ledger reads (every usage dimension has them). */
export type CacheCounters = Pick<Counters, 'inputTokens' | 'cacheCreate5m' | 'cacheCreate1h' | 'cacheRead'>

/**
 * The prompt-cache ledger of some usage (issue 17 §3): cache reads and writes, the hit rate, and
 * what caching saved versus sending the same tokens as uncached input, at the current prices.
 */
export interface CacheLedger {
  reads: number
  writes5m: number
  writes1h: number
  uncachedInput: number
  /** reads / (reads + writes + uncached input); null when no prompt token was counted (nothing to divide). */
  hitRate: number | null
  /** Integer micro-USD; negative when cache writes cost more than the reads saved. */
  savedMicros: number
  savedUsd: number
}

/** reads / (reads + writes + uncached input), or null for no prompt tokens at all. */
export function hitRate(c: CacheCounters): number | null {
  const prompt = c.cacheRead + c.cacheCreate5m + c.cacheCreate1h + c.inputTokens
  return prompt > 0 ? c.cacheRead / prompt : null
}

/** Signed atto-USD rounded half away from zero to whole micro-USD. */
const signedMicros = (atto: bigint) => (atto < 0n ? -attoToMicros(-atto) : attoToMicros(atto))

/**
 * The ledger of counters kept per model: savings are priced model by model (a model the table
 * does not know saves 0) and summed exactly before one rounding to micro-USD.
 */
export function cacheLedger(table: PriceTable, byModel: Iterable<readonly [model: string, c: CacheCounters]>): CacheLedger {
  const sum: CacheCounters = { inputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 }
  let atto = 0n
  for (const [model, c] of byModel) {
    sum.inputTokens += c.inputTokens
    sum.cacheCreate5m += c.cacheCreate5m
    sum.cacheCreate1h += c.cacheCreate1h
    sum.cacheRead += c.cacheRead
    atto += table.cacheSavingsAtto(model, c) ?? 0n
  }
  const savedMicros = signedMicros(atto)
  return {
    reads: sum.cacheRead, writes5m: sum.cacheCreate5m, writes1h: sum.cacheCreate1h, uncachedInput: sum.inputTokens,
    hitRate: hitRate(sum), savedMicros, savedUsd: savedMicros / 1e6,
  }
}

/** A key's usage (readKeyUsage) with its all-time ledger as `cache` (priced per model). */
export function withCacheLedger<U extends { total: { models: Record<string, CacheCounters> } }>(u: U, table: PriceTable): U & { cache: CacheLedger } {
  return { ...u, cache: cacheLedger(table, Object.entries(u.total.models)) }
}
