import { z } from 'zod'

const QuerySchema = z.object({ days: z.coerce.number().int().min(1).max(90).default(7) })

export default defineAnthropicHandler(async (event) => {
  const key = await requireClientKey(event.node.req)
  const parsed = QuerySchema.safeParse(getQuery(event))
  if (!parsed.success) throw new AnthropicError(400, 'invalid_request_error', 'days must be a whole number from 1 to 90.')
  return { keyId: key.id, ...await readKeyUsage(useRedis(), key.id, parsed.data.days) }
}, 'GET')
