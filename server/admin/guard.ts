import type { H3Event } from 'h3'
import { createError, getCookie, getHeader } from 'h3'
import { SESSION_COOKIE, verifySession, type AdminSession } from './sessions'
import { useConfig } from '../config'
import { useRedis } from '../store/redis'

/** The admin token from `Authorization: Bearer` or the session cookie. */
function adminToken(event: H3Event): string | undefined {
  const auth = getHeader(event, 'authorization')
  if (auth && /^bearer\s+/i.test(auth)) return auth.replace(/^bearer\s+/i, '').trim()
  return getCookie(event, SESSION_COOKIE)
}

/** Guard for admin routes: a valid, unrevoked session or a 401. */
export async function requireAdmin(event: H3Event): Promise<AdminSession> {
  const token = adminToken(event)
  if (!token) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Admin login required: POST /api/admin/auth/login.' })
  const session = await verifySession(useRedis(), useConfig().secrets.jwt, token)
  if (!session) throw createError({ statusCode: 401, statusMessage: 'Unauthorized', message: 'Session expired or revoked: log in again.' })
  event.context.admin = session
  return session
}
