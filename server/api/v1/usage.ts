import { UsageDaysQuerySchema } from '../../admin/usage-schemas'
import { withCacheLedger } from '../../usage/ledger'

export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  const parsed = UsageDaysQuerySchema.safeParse(getQuery(event))
  if (!parsed.success) throw new AnthropicError(400, 'invalid_request_error', 'days must be a whole number from 1 to 90.')
  const usage = await readKeyUsage(useRedis(), key.id, parsed.data.days)
  // `cache`: the key's prompt-cache ledger, all time (issue 17 §3).
  return { keyId: key.id, ...withCacheLedger(usage, await pricing.table()) }
}, 'GET')
