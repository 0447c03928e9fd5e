/** Token counts of one request, in the relay's own terms (every protocol maps onto these). */
export interface Usage {
  inputTokens: number
  outputTokens: number
  cacheCreate5m: number
  cacheCreate1h: number
  cacheRead: number
}

export const emptyUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, cacheCreate5m: 0, cacheCreate1h: 0, cacheRead: 0 })
