import { KeyUsageQuerySchema } from '../../../../admin/usage-schemas'
import { readLimitState } from '../../../../keys/admission'
import { readKeyUsage, readRecent } from '../../../../usage/record'

export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { id } = await getValidatedRouterParams(event, validate(IdParamsSchema))
  const q = await getValidatedQuery(event, validate(KeyUsageQuerySchema))
  const key = await apiKeys.get(id)
  if (!key) throw createError({ statusCode: 404, message: `API key ${id} not found.` })
  const redis = useRedis()
  const [usage, recent, state] = await Promise.all([readKeyUsage(redis, id, q.days), readRecent(redis, id, q.recent), readLimitState(redis, key)])
  return { id, usage, recent, state }
})
