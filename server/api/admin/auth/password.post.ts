import { PasswordSchema } from '../../../admin/schemas'
import { changeAdminPassword, verifyAdmin } from '../../../admin/users'

// Change the logged-in admin's password (the current one must be given again); this session stays.
export default defineEventHandler(async (event) => {
  const session = await requireAdmin(event)
  const { currentPassword, newPassword } = await readValidatedBody(event, validate(PasswordSchema))
  if (!await verifyAdmin(useRedis(), session.username, currentPassword)) {
    throw createError({ statusCode: 400, message: 'The current password is wrong.' })
  }
  // Every other session of this admin ends (a stolen one must not outlive the new password).
  const sessionsEnded = await changeAdminPassword(useRedis(), session.adminId, newPassword, session.jti)
  return { ok: true, sessionsEnded: sessionsEnded ?? 0 }
})
