import { z } from 'zod'
import { withCacheLedger } from '../../usage/ledger'

const QuerySchema = z.object({ days: z.coerce.number().int().min(1).max(90).default(7) })

export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  const parsed = QuerySchema.safeParse(getQuery(event))
  if (!parsed.success) throw new AnthropicError(400, 'invalid_request_error', 'days must be a whole number from 1 to 90.')
  const usage = await readKeyUsage(useRedis(), key.id, parsed.data.days)
  // `cache`: the key's prompt-cache ledger, all time (issue 17 §3).
  return { keyId: key.id, ...withCacheLedger(usage, await pricing.table()) }
}, 'GET')
