import type Redis from 'ioredis'
import { SignJWT, jwtVerify } from 'jose'
import { randomToken } from '../crypto'
import { rk } from '../store/keys'
import { throttleAddress } from './client-ip'
import type { AdminUser } from './users'

export const SESSION_COOKIE = 'crs_admin'
const ISSUER = 'claude-relay-service'

export interface AdminSession { adminId: string, username: string, jti: string }

/** Issue a signed token whose `jti` names a Redis session record (so logout can revoke it). */
export async function createSession(redis: Redis, secret: string, user: AdminUser, hours: number): Promise<{ token: string, expiresAt: string }> {
  const jti = randomToken(24)
  const ttl = hours * 3600
  const exp = Math.floor(Date.now() / 1000) + ttl
  const token = await new SignJWT({ username: user.username })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user.id).setJti(jti).setIssuer(ISSUER).setIssuedAt().setExpirationTime(exp)
    .sign(new TextEncoder().encode(secret))
  await redis.set(rk.session(jti), user.id, 'EX', ttl)
  return { token, expiresAt: new Date(exp * 1000).toISOString() }
}

/** Verify signature, expiry and that the session was not revoked; null when any fails. */
export async function verifySession(redis: Redis, secret: string, token: string): Promise<AdminSession | null> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), { issuer: ISSUER, algorithms: ['HS256'] })
    if (!payload.jti || !payload.sub) return null
    const owner = await redis.get(rk.session(payload.jti))
    if (owner !== payload.sub) return null
    return { adminId: payload.sub, username: String(payload.username ?? ''), jti: payload.jti }
  }
  catch {
    return null
  }
}

export async function revokeSession(redis: Redis, jti: string): Promise<void> {
  await redis.del(rk.session(jti))
}

const WINDOW_SECONDS = 15 * 60
/** Guesses per IP and username in a window: the bucket an attacker fills only for themself. */
export const MAX_FAILURES = 5
/** Attempts per IP over every username in a window (spraying many names from one address). */
export const MAX_IP_FAILURES = 20

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
