/** Token counts of one request, in the relay's own terms (every protocol maps onto these). */
export interface Usage {
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
}

export const emptyUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 })

/**
 * The most tokens one count of one request can plausibly hold (no model reads or writes more than
 * a few million): an upstream's larger, negative or non-integer figure is ignored, not recorded.
 */
const MAX_TOKEN_COUNT = 50_000_000

/** True for a plausible token count from an upstream answer. */
export const isTokenCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_TOKEN_COUNT
