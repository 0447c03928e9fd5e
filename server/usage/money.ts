// Exact money arithmetic for pricing. Prices are held as integer atto-USD (1e-18 USD) per token:
// LiteLLM prices go down to 4.6875e-9 USD, which is not a whole number of pico- or nano-USD,
// and 18 decimals leave room for the 0.1× / 1.25× derived cache prices. Products and sums are
// BigInt (7.5e-5 USD × 1e7 tokens is 7.5e20 atto, past 2^53), rounded once to micro-USD.

/** Atto-USD in one USD. */
export const ATTO_PER_USD = 10n ** 18n
/** Atto-USD in one micro-USD. */
const ATTO_PER_MICRO = 10n ** 12n

/** a × num / den, rounded half up (non-negative operands). */
export function mulDiv(a: bigint, num: bigint, den: bigint): bigint {
  return (a * num * 2n + den) / (den * 2n)
}

/**
 * A non-negative USD amount as integer atto-USD, read from the number's shortest decimal form
 * (what `String(n)` prints, i.e. the literal in the JSON) rather than by float multiplication,
 * so 3.75e-6 becomes exactly 3_750_000_000_000n. Digits past 18 decimals round half up.
 */
export function usdToAtto(usd: number): bigint {
  if (!Number.isFinite(usd) || usd < 0) throw new RangeError(`a price must be a finite number ≥ 0 (got ${usd})`)
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(usd))
  if (!m) throw new RangeError(`unexpected number form ${String(usd)}`)
  const frac = m[2] ?? ''
  const digits = BigInt(m[1]! + frac)
  const shift = Number(m[3] ?? 0) - frac.length + 18 // value = digits × 10^(shift - 18)
  return shift >= 0 ? digits * 10n ** BigInt(shift) : mulDiv(digits, 1n, 10n ** BigInt(-shift))
}

/** Integer atto-USD (× perTokens) as USD: the double nearest the exact decimal, for display. */
export function attoToUsd(atto: bigint, perTokens = 1n): number {
  const v = atto * perTokens
  return Number(`${v / ATTO_PER_USD}.${(v % ATTO_PER_USD).toString().padStart(18, '0')}`)
}

/** Integer atto-USD rounded half up to whole micro-USD. */
export function attoToMicros(atto: bigint): number {
  return Number(mulDiv(atto, 1n, ATTO_PER_MICRO))
}
