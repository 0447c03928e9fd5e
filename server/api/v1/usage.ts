import { UsageDaysQuerySchema } from '../../admin/usage-schemas'

export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  const parsed = UsageDaysQuerySchema.safeParse(getQuery(event))
  if (!parsed.success) throw new AnthropicError(400, 'invalid_request_error', 'days must be a whole number from 1 to 90.')
  return { keyId: key.id, ...await readKeyUsage(useRedis(), key.id, parsed.data.days) }
}, 'GET')
