import { z } from 'zod'
import { setAdminPassword, verifyAdmin } from '../../../admin/users'

const PasswordSchema = z.object({
  currentPassword: z.string().min(1, 'currentPassword is required').max(1000),
  newPassword: z.string().min(8, 'newPassword must be at least 8 characters').max(1000),
}).strict()

// Change the logged-in admin's password (the current one must be given again).
export default defineEventHandler(async (event) => {
  const session = await requireAdmin(event)
  const { currentPassword, newPassword } = await readValidatedBody(event, validate(PasswordSchema))
  if (!await verifyAdmin(useRedis(), session.username, currentPassword)) {
    throw createError({ statusCode: 400, message: 'The current password is wrong.' })
  }
  await setAdminPassword(useRedis(), session.adminId, newPassword)
  return { ok: true }
})
