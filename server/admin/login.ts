import type Redis from 'ioredis'
import type { Config } from '../config'
import { clearLoginFailures, createSession, takeLoginAttempt } from './sessions'
import { verifyAdmin } from './users'

export type LoginResult
  = | { ok: true, token: string, expiresAt: string }
    | { ok: false, status: 401 | 429, message: string, retryAfter?: number }

/** Count the attempt (throttled per IP and username), then check credentials; a success clears the count. */
export async function login(redis: Redis, cfg: Config, ip: string, username: string, password: string): Promise<LoginResult> {
  const wait = await takeLoginAttempt(redis, ip, username)
  if (wait > 0) {
    return { ok: false, status: 429, retryAfter: wait, message: `Too many failed logins: try again in ${Math.ceil(wait / 60)} minute(s).` }
  }
  const user = await verifyAdmin(redis, username, password)
  if (!user) {
    return { ok: false, status: 401, message: 'Invalid username or password.' }
  }
  await clearLoginFailures(redis, ip, username)
  return { ok: true, ...await createSession(redis, cfg.secrets.jwt, user, cfg.admin.sessionHours) }
}
