import { KeyUsageQuerySchema } from '../../../../admin/usage-schemas'
import { readLimitState } from '../../../../keys/admission'
import { withCacheLedger } from '../../../../usage/ledger'
import { readKeyUsage, readRecent } from '../../../../usage/record'
import { readSessionLedgers } from '../../../../usage/sessions'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const q = await getValidatedQuery(event, validate(KeyUsageQuerySchema))
  const key = await apiKeys.get(id)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  const redis = useRedis()
  const table = await pricing.table()
  const { stickyTtlMs } = useConfig()
  const [usage, recent, state, sessions] = await Promise.all([
    readKeyUsage(redis, id, q.days), readRecent(redis, id, q.recent), readLimitState(redis, key),
    readSessionLedgers(redis, id, stickyTtlMs, table),
  ])
  return { id, usage: withCacheLedger(usage, table), recent, state, sessions, sessionTtlMinutes: Math.round(stickyTtlMs / 60_000) }
})
