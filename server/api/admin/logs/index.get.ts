import { LogQuerySchema } from '../../../admin/schemas'
import { useLogRing } from '../../../logging'
import { levelNumber } from '../../../logging/ring'

// The newest log lines from the in-memory ring (already redacted), oldest first.
export default defineEventHandler(async (event) => {
  await requireAdmin(event)
  const { level, limit } = await getValidatedQuery(event, validate(LogQuerySchema))
  return { lines: useLogRing().recent(limit, levelNumber(level)) }
})
