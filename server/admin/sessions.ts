import type Redis from 'ioredis'
import { SignJWT, jwtVerify } from 'jose'
import { randomToken } from '../crypto'
import { rk } from '../store/keys'
import { throttleAddress } from './client-ip'
import type { AdminUser } from './users'

export const SESSION_COOKIE = 'crs_admin'
const ISSUER = 'claude-relay-service'

export interface AdminSession { adminId: string, username: string, jti: string }

/** Live sessions one admin may hold; a login past it ends the oldest (the index stays small). */
const MAX_SESSIONS = 50

/**
 * Issue a signed token whose `jti` names a Redis session record (so logout can revoke it), listed
 * in the admin's session index (so a password change can end them all without a SCAN).
 */
export async function createSession(redis: Redis, secret: string, user: AdminUser, hours: number): Promise<{ token: string, expiresAt: string }> {
  const jti = randomToken(24)
  const ttl = hours * 3600
  const exp = Math.floor(Date.now() / 1000) + ttl
  const token = await new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.id).setJti(jti).setIssuer(ISSUER).setIssuedAt().setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret))
  const index = rk.adminSessions(user.id)
  // Scored in ms (never before the token's own exp), so sessions of the same second keep their order.
  const endsAt = Date.now() + ttl * 1000
  const results = await redis.multi()
    .set(rk.session(jti), user.id, 'EX', ttl)
    .zadd(index, endsAt, jti)
    .zremrangebyscore(index, '-inf', Date.now())
    // The index lives as long as its longest session: set on creation (NX), extended only (GT).
    .pexpireat(index, endsAt, 'NX')
    .pexpireat(index, endsAt, 'GT')
    .zrange(index, 0, -(MAX_SESSIONS + 1))
    .exec()
  const overflow = (results?.[5]?.[1] ?? []) as string[]
  if (overflow.length) await endSessions(redis, user.id, overflow)
  return { token, expiresAt: new Date(exp * 1000).toISOString() }
}

/**
 * Verify signature, expiry and that the session was not revoked (its record names this admin and
 * the admin's index lists it, so every session a password change can find is the only kind that
 * works); null when any fails.
 */
export async function verifySession(redis: Redis, secret: string, token: string): Promise<AdminSession | null> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { issuer: ISSUER, algorithms: ['HS256'] })
    if (!payload.jti || !payload.sub) return null
    const [owner, listed] = ((await redis.pipeline().get(rk.session(payload.jti)).zscore(rk.adminSessions(payload.sub), payload.jti).exec()) ?? [])
      .map(([err, v]) => (err ? null : v))
    if (owner !== payload.sub || listed === null || listed === undefined) return null
    return { adminId: payload.sub, username: String(payload.username ?? ''), jti: payload.jti }
  }
  catch {
    return null
  }
}

/** End the given sessions of an admin; returns how many were still live. */
async function endSessions(redis: Redis, adminId: string, jtis: string[]): Promise<number> {
  if (jtis.length === 0) return 0
  const results = await redis.multi().del(...jtis.map(rk.session)).zrem(rk.adminSessions(adminId), ...jtis).exec()
  return Number(results?.[0]?.[1] ?? 0)
}

/** Logout: end one session. */
export async function revokeSession(redis: Redis, session: Pick<AdminSession, 'adminId' | 'jti'>): Promise<void> {
  await endSessions(redis, session.adminId, [session.jti])
}

/** End every session of an admin but `keep` (the one that asked, when it is a password change); returns how many ended. */
export async function revokeAdminSessions(redis: Redis, adminId: string, keep?: string): Promise<number> {
  const jtis = await redis.zrange(rk.adminSessions(adminId), 0, -1)
  return endSessions(redis, adminId, jtis.filter(j => j !== keep))
}

const WINDOW_SECONDS = 15 * 60
/** Guesses per IP and username in a window: the bucket an attacker fills only for themself. */
const MAX_FAILURES = 5
/** Attempts per IP over every username in a window (spraying many names from one address). */
const MAX_IP_FAILURES = 20

// No bucket is keyed by the username alone: anyone could fill it and lock its owner out everywhere.
const failureKeys = (ip: string, username: string) => {
  const address = throttleAddress(ip)
  return [rk.loginFailures('ip_user', `${address}:${username.toLowerCase()}`), rk.loginFailures('ip', address)] as const
}

/**
 * Count a login attempt before the password is checked: 5 per IP and username, 20 per IP, in
 * 15 minutes. Returns 0 when allowed, else seconds until the block ends.
 */
export async function takeLoginAttempt(redis: Redis, ip: string, username: string): Promise<number> {
  const [ipUserKey, ipKey] = failureKeys(ip, username)
  return redis.loginAttempt(ipUserKey, ipKey, MAX_FAILURES, MAX_IP_FAILURES, WINDOW_SECONDS)
}

/** A successful login forgets the attempts counted for its IP and username. */
export async function clearLoginFailures(redis: Redis, ip: string, username: string): Promise<void> {
  await redis.del(...failureKeys(ip, username))
}
