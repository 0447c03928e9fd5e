import { z } from 'zod'
import { useLogRing } from '../../../logging'
import { levelNumber } from '../../../logging/ring'

const LogQuerySchema = z.object({
  level: z.enum(['debug', 'info', 'warn', 'error']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
})

// The newest log lines from the in-memory ring (already redacted), oldest first.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { level, limit } = await getValidatedQuery(event, validate(LogQuerySchema))
  return { lines: useLogRing().recent(limit, levelNumber(level)) }
})
