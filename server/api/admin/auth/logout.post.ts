import { SESSION_COOKIE, revokeSession } from '../../../admin/sessions'

export default defineEventHandler(async (event) => {
  const session = await requireAdmin(event)
  await revokeSession(useRedis(), session.jti)
  deleteCookie(event, SESSION_COOKIE, { path: '/' })
  return { ok: true }
})
