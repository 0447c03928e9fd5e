import { createError } from 'h3'
import type Redis from 'ioredis'
import { useLogger } from '../logging'
import { channels, invalidation, parseInvalidation, rk } from '../store/keys'
import { isStoreOutage, publish, subscribe, useRedis } from '../store/redis'
import { type Cost, overrideProblem, type PriceFields, type PriceListItem, PriceTable } from './pricing'
import type { Usage } from './types'

// Safety net for a pub/sub message missed while the subscriber reconnects: rebuild at least this often.
const MAX_AGE_MS = 5 * 60_000

/** The overrides in Redis. An entry that is not valid (edited by hand) is skipped and logged, never fatal. */
async function readOverrides(redis: Redis): Promise<Record<string, PriceFields>> {
  const out: Record<string, PriceFields> = {}
  for (const [model, json] of Object.entries(await redis.hgetall(rk.pricingOverride()))) {
    let fields: unknown
    try {
      fields = JSON.parse(json)
    }
    catch { /* reported below */ }
    const problem = fields && typeof fields === 'object' && !Array.isArray(fields)
      ? overrideProblem(model, fields as PriceFields)
      : 'not a JSON object'
    if (problem) useLogger().warn({ model, problem }, `ignoring the price override of ${model} in Redis`)
    else out[model] = fields as PriceFields
  }
  return out
}

let current: { table: PriceTable, builtAt: number } | undefined
/** The newest table built (kept through invalidations): what recording prices with while Redis does not answer. */
let lastBuilt: PriceTable | undefined
let shippedOnly: PriceTable | undefined
let fallbackWarned = false
let building: Promise<PriceTable> | undefined
let subscribed = false

function invalidate(): void {
  current = undefined
  building = undefined
}

function rebuild(): Promise<PriceTable> {
  const p: Promise<PriceTable> = readOverrides(useRedis())
    .then((overrides) => {
      const table = new PriceTable(undefined, overrides)
      lastBuilt = table
      fallbackWarned = false
      // An invalidation while Redis was read makes this table stale: hand it to its waiters only.
      if (building === p) current = { table, builtAt: Date.now() }
      return table
    })
    .finally(() => {
      if (building === p) building = undefined
    })
  building = p
  return p
}

async function changed(): Promise<void> {
  invalidate()
  await publish(channels.invalidate, invalidation.pricing())
}

/** The current table: built once from the shipped JSON and the Redis overrides, cached until invalidated. */
function table(): Promise<PriceTable> {
  if (!subscribed) {
    subscribed = true
    subscribe(channels.invalidate, (msg) => {
      if (parseInvalidation(msg)?.kind === 'pricing') invalidate()
    })
  }
  if (current && Date.now() - current.builtAt < MAX_AGE_MS) return Promise.resolve(current.table)
  return building ?? rebuild()
}

/**
 * The table to price a finished request with: the current one, or — when it must be rebuilt and
 * Redis does not answer — the last one built (else the shipped prices alone), so a request is
 * never left unrecorded for want of its price. The rebuild is tried again at the next call.
 */
async function tableForRecording(): Promise<PriceTable> {
  try {
    return await table()
  }
  catch (err) {
    if (!isStoreOutage(err)) throw err
    if (!fallbackWarned) {
      fallbackWarned = true
      useLogger().warn({ reason: (err as Error).message }, `price overrides cannot be read (Redis does not answer): recording with ${lastBuilt ? 'the last price table built' : 'the shipped prices alone'}`)
    }
    return lastBuilt ?? (shippedOnly ??= new PriceTable(undefined, {}))
  }
}

/** Model prices: the shipped LiteLLM table plus admin overrides in Redis; changes reach every instance. */
export const pricing = {
  table,
  tableForRecording,
  /** Cost of one request with the current table (no Redis round trip once built). */
  async cost(model: string, usage: Usage): Promise<Cost> {
    return (await table()).costMicros(model, usage)
  },
  /** True when the table built so far prices `model` (synchronous: false before the first build). */
  knownNow(model: string): boolean {
    return current?.table.resolve(model) != null
  },
  /** Every model with its effective prices; `q` keeps ids containing it (case-insensitive). */
  async list(q?: string): Promise<{ items: PriceListItem[], total: number }> {
    const needle = q?.toLowerCase()
    const items = (await table()).list().filter(i => !needle || i.model.toLowerCase().includes(needle))
    return { items, total: items.length }
  },
  /** Replace the override of `model` (fields not given come from the shipped entry); 400 when it cannot price the model. */
  async setOverride(model: string, fields: PriceFields): Promise<PriceListItem | null> {
    const problem = overrideProblem(model, fields)
    if (problem) throw createError({ statusCode: 400, message: problem })
    await useRedis().hset(rk.pricingOverride(), model, JSON.stringify(fields))
    await changed()
    return (await table()).item(model)
  },
  /** Drop the override of `model` (the shipped price applies again); false when it had none. */
  async removeOverride(model: string): Promise<boolean> {
    const removed = await useRedis().hdel(rk.pricingOverride(), model)
    if (removed) await changed()
    return removed > 0
  },
  /** Rebuild the table on every instance (after the override hash was edited outside the API). */
  async reload(): Promise<{ models: number, overrides: number }> {
    await changed()
    const t = await table()
    return { models: t.size, overrides: t.list().filter(i => i.overridden).length }
  },
}
