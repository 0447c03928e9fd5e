import { describe, expect, it } from 'vitest'
import { PriceOverrideSchema } from '../../server/admin/pricing-schemas'
import { attoToMicros, attoToUsd, usdToAtto } from '../../server/usage/money'
import { modelFamily, overrideProblem, PRICE_FIELDS, type PriceEntry, PriceTable, SHIPPED_PRICES, withoutProviderPrefix } from '../../server/usage/pricing'
import { emptyUsage, type Usage } from '../../server/usage/types'

const usage = (u: Partial<Usage>): Usage => ({ ...emptyUsage(), ...u })
const shipped = new PriceTable()
/** A table of one model, to see a rule without the shipped data around it. */
const one = (model: string, entry: PriceEntry) => new PriceTable({ [model]: entry })

describe('money: exact decimal ↔ atto-USD', () => {
  it.each([
    [3.75e-6, 3_750_000_000_000n],
    [4.6875e-9, 4_687_500_000n],
    [7.8125e-8, 78_125_000_000n],
    [1.1e-6, 1_100_000_000_000n],
    [0, 0n],
    [1, 10n ** 18n],
    [123.456, 123_456_000_000_000_000_000n],
    [1e-18, 1n],
    [5e-19, 1n], // below atto rounds half up
    [4e-19, 0n],
  ])('usdToAtto(%s) = %s', (usd, atto) => {
    expect(usdToAtto(usd)).toBe(atto)
  })

  it.each([-1e-6, Number.NaN, Number.POSITIVE_INFINITY])('usdToAtto(%s) throws', (usd) => {
    expect(() => usdToAtto(usd)).toThrow(RangeError)
  })

  it('reads back as the exact decimal, per token and per million', () => {
    expect(attoToUsd(3_750_000_000_000n)).toBe(3.75e-6)
    expect(attoToUsd(3_750_000_000_000n, 1_000_000n)).toBe(3.75)
    expect(attoToUsd(4_687_500_000n, 1_000_000n)).toBe(0.0046875)
  })

  it.each([
    [499_999_999_999n, 0],
    [500_000_000_000n, 1], // exactly half a micro-USD rounds up
    [1_500_000_000_000n, 2],
    [10n ** 30n, 1e18],
  ])('attoToMicros(%s) = %s', (atto, micros) => {
    expect(attoToMicros(atto)).toBe(micros)
  })
})

describe('PriceTable: prices from LiteLLM fields and defaults', () => {
  it('reads every shipped price of a Claude model as given', () => {
    expect(shipped.price('claude-opus-4-1')).toEqual({ input: 1.5e-5, output: 7.5e-5, cacheWrite5m: 1.875e-5, cacheWrite1h: 3e-5, cacheRead: 1.5e-6 })
  })

  const claudeBase = { input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5 }
  it.each([
    ['missing 1h → 2× input', { ...claudeBase, cache_creation_input_token_cost: 3.8e-6, cache_read_input_token_cost: 3.1e-7 }, { cacheWrite5m: 3.8e-6, cacheWrite1h: 6e-6, cacheRead: 3.1e-7 }],
    ['missing 5m → 1.25× input', { ...claudeBase, cache_creation_input_token_cost_above_1hr: 7e-6, cache_read_input_token_cost: 3.1e-7 }, { cacheWrite5m: 3.75e-6, cacheWrite1h: 7e-6, cacheRead: 3.1e-7 }],
    ['missing read → 0.1× input', { ...claudeBase, cache_creation_input_token_cost: 3.8e-6, cache_creation_input_token_cost_above_1hr: 7e-6 }, { cacheWrite5m: 3.8e-6, cacheWrite1h: 7e-6, cacheRead: 3e-7 }],
    ['no cache prices at all', claudeBase, { cacheWrite5m: 3.75e-6, cacheWrite1h: 6e-6, cacheRead: 3e-7 }],
  ])('Claude, %s', (_, entry, cache) => {
    expect(one('claude-test-1', entry).price('claude-test-1')).toEqual({ input: 3e-6, output: 1.5e-5, ...cache })
  })

  it.each([
    ['gemini-test', {}, { cacheWrite5m: 1e-6, cacheWrite1h: 1e-6, cacheRead: 2.5e-7 }],
    ['gemini-test', { cache_read_input_token_cost: 1e-7 }, { cacheWrite5m: 1e-6, cacheWrite1h: 1e-6, cacheRead: 1e-7 }],
    ['gemini-test', { cache_read_input_token_cost: 0 }, { cacheWrite5m: 1e-6, cacheWrite1h: 1e-6, cacheRead: 0 }],
    ['gpt-test', {}, { cacheWrite5m: 1e-6, cacheWrite1h: 1e-6, cacheRead: 1e-6 }],
  ])('%s %j: cache writes at input price, read 0.25× input for Gemini, input price otherwise', (model, extra, cache) => {
    expect(one(model, { input_cost_per_token: 1e-6, output_cost_per_token: 4e-6, ...extra }).price(model)).toEqual({ input: 1e-6, output: 4e-6, ...cache })
  })

  it('uses Anthropic multipliers on the long-context input price when its cache prices are missing', () => {
    const t = one('claude-long', { ...claudeBase, input_cost_per_token_above_200k_tokens: 6e-6, output_cost_per_token_above_200k_tokens: 2.25e-5 })
    expect(t.price('claude-long')).toMatchObject({ inputAbove200k: 6e-6, outputAbove200k: 2.25e-5, cacheWrite5mAbove200k: 7.5e-6, cacheWrite1hAbove200k: 1.2e-5, cacheReadAbove200k: 6e-7 })
  })

  it('gives a Gemini long-context tier the base cache prices it leaves out (as LiteLLM does)', () => {
    expect(shipped.price('gemini-2.0-pro-exp-02-05')).toMatchObject({ cacheRead: 3.125e-7, inputAbove200k: 2.5e-6, cacheReadAbove200k: 3.125e-7 })
  })

  it.each([
    ['claude-sonnet-4-5', undefined, 'claude'],
    ['claude-sonnet-4-5-20250929-v1:0', 'bedrock', 'claude'],
    ['some-anthropic-alias', 'anthropic', 'claude'],
    ['gemini-2.5-pro', 'vertex_ai-language-models', 'gemini'],
    ['gpt-4o', undefined, 'other'],
  ])('modelFamily(%s, %s) = %s', (model, provider, family) => {
    expect(modelFamily(model, provider)).toBe(family)
  })
})

describe('PriceTable.costMicros', () => {
  it.each([
    // claude-opus-4-1: 15 / 75 / 18.75 / 30 / 1.5 micro-USD per token
    ['claude-opus-4-1', { inputTokens: 1000, outputTokens: 500, cacheCreate5m: 2000, cacheCreate1h: 4000, cacheRead: 10_000 }, 225_000],
    ['claude-opus-4-1', { cacheCreate1h: 1 }, 30],
    ['claude-opus-4-1', { cacheCreate5m: 1 }, 19], // 18.75 → 19
    ['claude-haiku-4-5', { inputTokens: 1_000_000, outputTokens: 1_000_000 }, 6_000_000],
    ['gemini-2.5-flash', { inputTokens: 1000, outputTokens: 1000, cacheRead: 1000 }, 2830],
    ['claude-sonnet-4-5', {}, 0],
  ])('%s %j → %i micro-USD', (model, u, micros) => {
    expect(shipped.costMicros(model, usage(u))).toEqual({ micros, known: true })
  })

  const long = one('claude-long', { input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5, input_cost_per_token_above_200k_tokens: 6e-6, output_cost_per_token_above_200k_tokens: 2.25e-5 })
  it.each([
    ['200,000 input', { inputTokens: 200_000, outputTokens: 1000 }, 600_000 + 15_000],
    ['200,001 input', { inputTokens: 200_001, outputTokens: 1000 }, 1_200_006 + 22_500],
    ['cache reads count toward the threshold', { inputTokens: 100_000, cacheRead: 100_001 }, 600_000 + 60_001], // 100,001 × 0.6 = 60,000.6
    ['cache writes count toward the threshold', { inputTokens: 1, cacheCreate5m: 100_000, cacheCreate1h: 100_000 }, 6 + 750_000 + 1_200_000],
    ['output does not', { inputTokens: 200_000, outputTokens: 500_000 }, 600_000 + 7_500_000],
  ])('long-context switch: %s', (_, u, micros) => {
    expect(long.costMicros('claude-long', usage(u)).micros).toBe(micros)
  })

  it.each([
    [200_000, 250_000],
    [200_001, 500_003], // 200,001 × 2.5 = 500,002.5 → 500,003
  ])('shipped gemini-2.5-pro switches tiers: %i input tokens → %i micro-USD', (inputTokens, micros) => {
    expect(shipped.costMicros('gemini-2.5-pro', usage({ inputTokens })).micros).toBe(micros)
  })

  it('does not switch a model without long-context prices', () => {
    expect(shipped.costMicros('claude-opus-4-1', usage({ inputTokens: 300_000 })).micros).toBe(4_500_000)
  })

  it.each(['claude-unknown-9', 'gpt-4o', '', 'claude-sonnet-4-5 '])('unknown model %j → cost 0, flagged', (model) => {
    expect(shipped.costMicros(model, usage({ inputTokens: 1000, outputTokens: 1000 }))).toEqual({ micros: 0, known: false })
    expect(shipped.price(model)).toBeNull()
  })

  it.each([
    [Number.NaN, 0], [-5, 0], [Number.POSITIVE_INFINITY, 0], [10.9, 150],
  ])('a token count of %s costs %i micro-USD (bad counts are 0; never throws while recording)', (inputTokens, micros) => {
    expect(shipped.costMicros('claude-opus-4-1', usage({ inputTokens })).micros).toBe(micros)
  })
})

describe('PriceTable.resolve: exact ids and provider prefixes only', () => {
  it.each([
    ['claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['anthropic/claude-sonnet-4-5', 'claude-sonnet-4-5'],
    ['anthropic/claude-sonnet-4-5-20250929-v1:0', 'claude-sonnet-4-5-20250929-v1:0'],
    ['models/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['gemini/gemini-2.5-pro', 'gemini-2.5-pro'],
    ['google/gemini-2.5-pro', 'gemini-2.5-pro'],
  ])('%s → %s', (sent, id) => {
    expect(shipped.resolve(sent)).toBe(id)
    expect(shipped.price(sent)).toEqual(shipped.price(id))
    expect(shipped.costMicros(sent, usage({ inputTokens: 1234, outputTokens: 56 }))).toEqual(shipped.costMicros(id, usage({ inputTokens: 1234, outputTokens: 56 })))
  })

  it.each([
    'claude-sonnet-4-5-20991231', 'claude-sonnet-4-5-latest', 'Claude-Sonnet-4-5', 'claude-sonnet-4', 'sonnet-4-5',
    'claude-3-5-sonnet', 'gemini-2.5-pro-latest', 'gemini-2.5', 'anthropic/gemini-2.5-pro', 'models/claude-sonnet-4-5',
    'openai/claude-sonnet-4-5', 'vertex_ai/claude-sonnet-4-5', 'anthropic/anthropic/claude-sonnet-4-5', 'models/models/gemini-2.5-pro',
    'anthropic/', 'claude-sonnet-4-5@20250929',
  ])('%s is not priced (no fuzzy match)', (sent) => {
    expect(shipped.resolve(sent)).toBeNull()
    expect(shipped.costMicros(sent, usage({ inputTokens: 1 })).known).toBe(false)
  })

  it('matches claude-sonnet-4-5 only when that exact id is in the table', () => {
    const t = one('claude-sonnet-4-5-20250929', { input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5 })
    expect(t.price('claude-sonnet-4-5')).toBeNull()
    expect(t.price('claude-sonnet-4-5-20250929')).not.toBeNull()
  })

  it.each([
    ['anthropic/claude-x', 'claude-x'], ['models/gemini-x', 'gemini-x'], ['anthropic/gemini-x', null], ['claude-x', null],
  ])('withoutProviderPrefix(%s) = %s', (model, bare) => {
    expect(withoutProviderPrefix(model)).toBe(bare)
  })
})

describe('exact arithmetic (no float drift)', () => {
  const naive = (tokens: number, price: number) => Math.round(tokens * price * 1e6)
  it.each([
    [25, 3e-7, 8], // 7.5 micro-USD: the float product is 7.4999…
    [526, 3.75e-6, 1973],
    [57_105, 1.1e-6, 62_816],
    [1600, 4.6875e-9, 8],
    [130, 3.5e-7, 46],
  ])('%i tokens at %s USD → %i micro-USD (naive float math rounds the other way)', (tokens, price, micros) => {
    expect(naive(tokens, price)).not.toBe(micros)
    expect(one('m', { input_cost_per_token: price, output_cost_per_token: 0 }).costMicros('m', usage({ inputTokens: tokens })).micros).toBe(micros)
  })

  it('summed over many requests equals the exact integer', () => {
    // $0.1 per million tokens, 30 tokens a request: 3 micro-USD each.
    const t = one('cheap', { input_cost_per_token: 1e-7, output_cost_per_token: 1e-7 })
    let micros = 0
    let floatUsd = 0
    for (let i = 0; i < 10_000; i++) {
      micros += t.costMicros('cheap', usage({ inputTokens: 10, outputTokens: 20 })).micros
      floatUsd += 30 * 1e-7
    }
    expect(micros).toBe(30_000)
    expect(floatUsd * 1e6).not.toBe(30_000)
  })

  it('stays exact past 2^53 atto-USD', () => {
    // 7.5e-5 × 1e9 tokens = 75,000 USD; with 1 token at 1.5e-5 on top.
    expect(shipped.costMicros('claude-opus-4-1', usage({ outputTokens: 1e9, inputTokens: 1 })).micros).toBe(75_000_000_015)
  })
})

describe('overrides', () => {
  it('replace only the fields they give; the rest stays shipped', () => {
    const t = new PriceTable(SHIPPED_PRICES, { 'claude-sonnet-4-5': { output_cost_per_token: 2e-5 } })
    expect(t.price('claude-sonnet-4-5')).toMatchObject({ input: 3e-6, output: 2e-5, cacheWrite5m: 3.75e-6 })
    expect(t.item('claude-sonnet-4-5')).toMatchObject({ shipped: true, overridden: true, override: { output_cost_per_token: 2e-5 } })
    expect(t.item('claude-opus-4-1')).toMatchObject({ shipped: true, overridden: false, override: null })
    expect(t.costMicros('anthropic/claude-sonnet-4-5', usage({ outputTokens: 1000 })).micros).toBe(20_000)
  })

  it('add models the shipped table lacks, with the family defaults', () => {
    const t = new PriceTable(SHIPPED_PRICES, { 'claude-opus-9': { input_cost_per_token: 1e-5, output_cost_per_token: 5e-5 } })
    expect(t.size).toBe(Object.keys(SHIPPED_PRICES).length + 1)
    expect(t.price('claude-opus-9')).toEqual({ input: 1e-5, output: 5e-5, cacheWrite5m: 1.25e-5, cacheWrite1h: 2e-5, cacheRead: 1e-6 })
    expect(t.item('claude-opus-9')).toMatchObject({ shipped: false, overridden: true, family: 'claude' })
    expect(t.costMicros('claude-opus-9', usage({ inputTokens: 1, cacheCreate1h: 1 }))).toEqual({ micros: 30, known: true })
  })

  it('can add a long-context tier to a shipped model', () => {
    const t = new PriceTable(SHIPPED_PRICES, { 'claude-sonnet-4-5': { input_cost_per_token_above_200k_tokens: 6e-6 } })
    expect(t.costMicros('claude-sonnet-4-5', usage({ inputTokens: 200_001 })).micros).toBe(1_200_006)
  })

  it.each([
    ['claude-new', { input_cost_per_token: 1e-6 }, /output_cost_per_token: required/],
    ['claude-new', {}, /input_cost_per_token, output_cost_per_token: required/],
    ['claude-sonnet-4-5', { max_input_tokens: 1 }, /max_input_tokens: not a LiteLLM price field/],
    ['claude-sonnet-4-5', { input_cost_per_token: -1 }, /input_cost_per_token: must be a number ≥ 0/],
    ['claude-sonnet-4-5', { input_cost_per_token: '3e-6' }, /input_cost_per_token: must be a number/],
    ['anthropic/claude-sonnet-4-5', { input_cost_per_token: 1e-6 }, /set the price on claude-sonnet-4-5/],
  ])('overrideProblem(%s, %j) names the problem', (model, fields, problem) => {
    expect(overrideProblem(model, fields as never)).toMatch(problem)
    expect(() => new PriceTable(SHIPPED_PRICES, { [model]: fields as never })).toThrow(problem)
  })

  it('accept a partial override of a shipped model', () => {
    expect(overrideProblem('claude-sonnet-4-5', { cache_read_input_token_cost: 0 })).toBeNull()
  })
})

describe('the shipped table', () => {
  it('prices every Claude and Gemini model it lists, sorted, with per-million display values', () => {
    const items = shipped.list()
    expect(items).toHaveLength(Object.keys(SHIPPED_PRICES).length)
    expect(items.map(i => i.model)).toEqual(Object.keys(SHIPPED_PRICES).sort())
    expect(items.filter(i => i.family === 'claude').length).toBeGreaterThan(10)
    expect(items.filter(i => i.family === 'gemini').length).toBeGreaterThan(10)
    expect(items.find(i => i.model === 'claude-sonnet-4-5')?.perMillion).toEqual({
      input: 3, output: 15, cacheWrite5m: 3.75, cacheWrite1h: 6, cacheRead: 0.3,
      inputAbove200k: 3, outputAbove200k: 15, cacheWrite5mAbove200k: 3.75, cacheWrite1hAbove200k: 6, cacheReadAbove200k: 0.3,
    })
  })
})

describe('the admin override schema', () => {
  it('accepts exactly the price fields the table reads', () => {
    expect(Object.keys(PriceOverrideSchema.shape).sort()).toEqual([...PRICE_FIELDS].sort())
  })
})
