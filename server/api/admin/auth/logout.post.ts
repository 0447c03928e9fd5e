import { SESSION_COOKIE, revokeSession } from '../../../admin/sessions'

export default defineEventHandler(async (event) => {
  const session = await requireAdmin(event)
  await revokeSession(useRedis(), session)
  deleteCookie(event, SESSION_COOKIE, { path: '/' })
  return { ok: true }
})
