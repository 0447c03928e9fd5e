import { attoToMicros, attoToUsd, mulDiv, usdToAtto } from './money'
import shippedJson from './model-prices.json'
import type { Usage } from './types'

/** The LiteLLM price fields we read (model_prices_and_context_window.json names), USD per token. */
export const PRICE_FIELDS = [
  'input_cost_per_token', 'output_cost_per_token',
  'cache_creation_input_token_cost', 'cache_creation_input_token_cost_above_1hr', 'cache_read_input_token_cost',
  'input_cost_per_token_above_200k_tokens', 'output_cost_per_token_above_200k_tokens',
  'cache_creation_input_token_cost_above_200k_tokens', 'cache_creation_input_token_cost_above_1hr_above_200k_tokens',
  'cache_read_input_token_cost_above_200k_tokens',
] as const
export type PriceField = typeof PRICE_FIELDS[number]
/** Price fields of one model (an override holds any subset). */
export type PriceFields = Partial<Record<PriceField, number>>
/** A LiteLLM entry: price fields plus fields we ignore except the provider. */
export type PriceEntry = PriceFields & { litellm_provider?: string }

/** The shipped table (server/usage/model-prices.json), loaded once per process with this module. */
export const SHIPPED_PRICES: Readonly<Record<string, PriceEntry>> = shippedJson

/** Effective prices of a model in USD per token; the `Above200k` ones only when it has a long-context tier. */
export interface ModelPrice {
  input: number
  output: number
  cacheWrite5m: number
  cacheWrite1h: number
  cacheRead: number
  inputAbove200k?: number
  outputAbove200k?: number
  cacheWrite5mAbove200k?: number
  cacheWrite1hAbove200k?: number
  cacheReadAbove200k?: number
}

export interface Cost {
  /** Integer micro-USD. */
  micros: number
  /** False when the model is not in the table: cost 0, to be recorded as unpriced. */
  known: boolean
}

export type ModelFamily = 'claude' | 'gemini' | 'other'

export interface PriceListItem {
  model: string
  family: ModelFamily
  /** In the shipped JSON (false: added by an admin override). */
  shipped: boolean
  overridden: boolean
  override: PriceFields | null
  /** USD per token. */
  price: ModelPrice
  /** USD per million tokens, for display. */
  perMillion: ModelPrice
}

/**
 * Anthropic bills a whole request at the long-context rates when its input tokens — uncached
 * input plus cache writes plus cache reads; output does not count — exceed 200K:
 * https://docs.claude.com/en/docs/about-claude/pricing#long-context-pricing. Gemini's ">200k
 * tokens" prompt tier is applied by the same rule. Only models with `_above_200k_tokens` prices switch.
 */
const LONG_CONTEXT_THRESHOLD = 200_000

// How clients spell the same model: `anthropic/claude-…` (OpenRouter/LiteLLM style), Gemini API
// resource names `models/gemini-…`, `gemini/…` and `google/…`. One prefix, only before its own
// family, then an exact match; no other guessing (ids differ in price by date and version).
const PROVIDER_PREFIXES: ReadonlyArray<readonly [prefix: string, family: string]> = [
  ['anthropic/', 'claude-'], ['models/', 'gemini-'], ['gemini/', 'gemini-'], ['google/', 'gemini-'],
]

const TIER_KEYS = ['input', 'output', 'cacheWrite5m', 'cacheWrite1h', 'cacheRead'] as const
type TierKey = typeof TIER_KEYS[number]
/** One price tier in integer atto-USD per token. */
type Tier = Record<TierKey, bigint>

const FIELDS: Record<'base' | 'above', Record<TierKey, PriceField>> = {
  base: {
    input: 'input_cost_per_token', output: 'output_cost_per_token', cacheWrite5m: 'cache_creation_input_token_cost',
    cacheWrite1h: 'cache_creation_input_token_cost_above_1hr', cacheRead: 'cache_read_input_token_cost',
  },
  above: {
    input: 'input_cost_per_token_above_200k_tokens', output: 'output_cost_per_token_above_200k_tokens',
    cacheWrite5m: 'cache_creation_input_token_cost_above_200k_tokens',
    cacheWrite1h: 'cache_creation_input_token_cost_above_1hr_above_200k_tokens',
    cacheRead: 'cache_read_input_token_cost_above_200k_tokens',
  },
}

interface Priced {
  family: ModelFamily
  shipped: boolean
  override: PriceFields | null
  base: Tier
  above: Tier | null
}

/** Claude by id or LiteLLM provider, Gemini by id; decides the cache-price defaults. */
export function modelFamily(model: string, provider?: string): ModelFamily {
  if (model.startsWith('claude-') || provider === 'anthropic') return 'claude'
  return model.startsWith('gemini-') ? 'gemini' : 'other'
}

/** The bare id when `model` is a provider-prefixed spelling (`anthropic/claude-x` → `claude-x`), else null. */
export function withoutProviderPrefix(model: string): string | null {
  const hit = PROVIDER_PREFIXES.find(([prefix, family]) => model.startsWith(prefix) && model.startsWith(family, prefix.length))
  return hit ? model.slice(hit[0].length) : null
}

/** Why `fields` cannot be the override of `model` (a new model needs input and output), or null. */
export function overrideProblem(model: string, fields: PriceFields, table: Readonly<Record<string, PriceEntry>> = SHIPPED_PRICES): string | null {
  // Table ids are bare, so a prefixed request always finds the same price as the bare one.
  const bare = withoutProviderPrefix(model)
  if (bare !== null) return `model: set the price on ${bare} (requests for ${model} resolve to it)`
  for (const [k, v] of Object.entries(fields)) {
    if (!(PRICE_FIELDS as readonly string[]).includes(k)) return `${k}: not a LiteLLM price field (${PRICE_FIELDS.join(', ')})`
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return `${k}: must be a number ≥ 0 (USD per token)`
  }
  if (Object.hasOwn(table, model)) return null
  const missing = (['input_cost_per_token', 'output_cost_per_token'] as const).filter(f => fields[f] === undefined)
  return missing.length ? `${missing.join(', ')}: required for ${model}, which is not in the shipped price table` : null
}

/**
 * Cache prices a model's entry leaves out:
 * - Claude (Anthropic's multipliers, on the tier's own input price, so they stack on long-context
 *   rates as Anthropic bills them): 5m write 1.25×, 1h write 2×, read 0.1× input.
 * - Long-context tier of other models: the base tier's price (what LiteLLM's cost calculator does).
 * - Gemini read 0.25× input: Google's context-caching rate for the 1.0/1.5/2.0-era models the table
 *   leaves without one (newer ones carry their own 0.1×). Gemini reports no cache writes; were any
 *   reported, they cost input price, as for other models. Other models' reads cost input price: no
 *   discount is assumed for a model we know nothing about.
 */
function cacheDefaults(family: ModelFamily, input: bigint, base: Tier | null): Omit<Tier, 'input' | 'output'> {
  if (family === 'claude') return { cacheWrite5m: mulDiv(input, 5n, 4n), cacheWrite1h: input * 2n, cacheRead: mulDiv(input, 1n, 10n) }
  if (base) return { cacheWrite5m: base.cacheWrite5m, cacheWrite1h: base.cacheWrite1h, cacheRead: base.cacheRead }
  return { cacheWrite5m: input, cacheWrite1h: input, cacheRead: family === 'gemini' ? mulDiv(input, 1n, 4n) : input }
}

function tier(e: PriceEntry, which: 'base' | 'above', family: ModelFamily, base: Tier | null): Tier {
  const given = (k: TierKey) => (e[FIELDS[which][k]] === undefined ? undefined : usdToAtto(e[FIELDS[which][k]]!))
  // The base tier always has input and output (checked by the caller); the long-context tier falls back to them.
  const input = given('input') ?? base!.input
  const d = cacheDefaults(family, input, base)
  return {
    input, output: given('output') ?? base!.output,
    cacheWrite5m: given('cacheWrite5m') ?? d.cacheWrite5m, cacheWrite1h: given('cacheWrite1h') ?? d.cacheWrite1h,
    cacheRead: given('cacheRead') ?? d.cacheRead,
  }
}

function toPrice(p: Priced, perTokens = 1n): ModelPrice {
  const out: ModelPrice = { input: 0, output: 0, cacheWrite5m: 0, cacheWrite1h: 0, cacheRead: 0 }
  for (const k of TIER_KEYS) out[k] = attoToUsd(p.base[k], perTokens)
  if (p.above) for (const k of TIER_KEYS) out[`${k}Above200k`] = attoToUsd(p.above[k], perTokens)
  return out
}

/** Tokens as a BigInt; a count that is not a non-negative number counts as 0 (never throws on the recording path). */
const tokens = (n: number): bigint => (Number.isFinite(n) && n > 0 ? BigInt(Math.trunc(n)) : 0n)

/** The price table: the shipped LiteLLM entries with admin overrides merged field by field. */
export class PriceTable {
  private readonly models = new Map<string, Priced>()

  constructor(table: Readonly<Record<string, PriceEntry>> = SHIPPED_PRICES, overrides: Readonly<Record<string, PriceFields>> = {}) {
    for (const model of new Set([...Object.keys(table), ...Object.keys(overrides)])) {
      const override = overrides[model] ?? null
      const problem = override ? overrideProblem(model, override, table) : null
      const entry: PriceEntry = { ...table[model], ...override }
      if (problem || entry.input_cost_per_token === undefined || entry.output_cost_per_token === undefined) {
        throw new Error(`price of ${model}: ${problem ?? 'input_cost_per_token and output_cost_per_token are required'}`)
      }
      const family = modelFamily(model, entry.litellm_provider)
      const base = tier(entry, 'base', family, null)
      const above = PRICE_FIELDS.some(f => f.endsWith('_above_200k_tokens') && entry[f] !== undefined) ? tier(entry, 'above', family, base) : null
      this.models.set(model, { family, shipped: Object.hasOwn(table, model), override, base, above })
    }
  }

  get size(): number {
    return this.models.size
  }

  /** The table's id for what a client sent: exact, or exact after one known provider prefix; else null. */
  resolve(model: string): string | null {
    if (this.models.has(model)) return model
    const bare = withoutProviderPrefix(model)
    return bare !== null && this.models.has(bare) ? bare : null
  }

  /** Effective USD-per-token prices, or null for a model the table does not have. */
  price(model: string): ModelPrice | null {
    const id = this.resolve(model)
    return id === null ? null : toPrice(this.models.get(id)!)
  }

  /** Cost of one request in integer micro-USD (exact sum, rounded half up once); unknown model → 0, known: false. */
  costMicros(model: string, usage: Usage): Cost {
    const id = this.resolve(model)
    if (id === null) return { micros: 0, known: false }
    const p = this.models.get(id)!
    const promptTokens = usage.inputTokens + usage.cacheCreate5m + usage.cacheCreate1h + usage.cacheRead
    const t = p.above && promptTokens > LONG_CONTEXT_THRESHOLD ? p.above : p.base
    const atto = tokens(usage.inputTokens) * t.input + tokens(usage.outputTokens) * t.output
      + tokens(usage.cacheCreate5m) * t.cacheWrite5m + tokens(usage.cacheCreate1h) * t.cacheWrite1h
      + tokens(usage.cacheRead) * t.cacheRead
    return { micros: attoToMicros(atto), known: true }
  }

  /**
   * What a model's cache tokens cost less than the same tokens as uncached input, in signed atto-USD
   * (negative: writes that cost more than reads saved); null for a model the table does not have.
   * Base-tier prices: counters are sums of requests, and which requests were long-context is not kept.
   */
  cacheSavingsAtto(model: string, c: Pick<Usage, 'cacheCreate5m' | 'cacheCreate1h' | 'cacheRead'>): bigint | null {
    const id = this.resolve(model)
    if (id === null) return null
    const t = this.models.get(id)!.base
    return tokens(c.cacheRead) * (t.input - t.cacheRead) + tokens(c.cacheCreate5m) * (t.input - t.cacheWrite5m)
      + tokens(c.cacheCreate1h) * (t.input - t.cacheWrite1h)
  }

  /** One model's listing (exact id), or null. */
  item(model: string): PriceListItem | null {
    const p = this.models.get(model)
    if (!p) return null
    return {
      model, family: p.family, shipped: p.shipped, overridden: p.override !== null, override: p.override,
      price: toPrice(p), perMillion: toPrice(p, 1_000_000n),
    }
  }

  /** Every model with its effective prices, sorted by id. */
  list(): PriceListItem[] {
    return [...this.models.keys()].sort().map(model => this.item(model)!)
  }
}
