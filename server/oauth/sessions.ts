import type Redis from 'ioredis'
import { decryptSecret, encryptSecret, randomToken } from '../crypto'
import { rk } from '../store/keys'
import { OAuthError } from './errors'
import type { ProviderId } from './providers'

/** How long an authorization may take, from generating the URL to exchanging the code. */
export const SESSION_TTL_MS = 10 * 60_000

/** A pending authorization. Stored encrypted: the proxy URL may carry a password. */
export interface OAuthSession {
  id: string
  provider: ProviderId
  verifier: string
  state: string
  proxy: string | null
  /** ms epoch; Redis drops the record then. */
  expiresAt: number
}

const SESSION_ID = /^[\w-]{16,64}$/

/** Store a new session for 10 minutes; returns it with its id. */
export async function createSession(redis: Redis, encKey: string, data: Omit<OAuthSession, 'id' | 'expiresAt'>, now = Date.now()): Promise<OAuthSession> {
  const session: OAuthSession = { id: randomToken(18), ...data, expiresAt: now + SESSION_TTL_MS }
  await redis.set(rk.oauthSession(session.id), seal(session, encKey), 'PX', SESSION_TTL_MS)
  return session
}

/**
 * Take a session (GETDEL): while one exchange runs, a second one for the same session finds
 * nothing. Throws `session_expired` when it is gone (expired, used, or being used).
 */
export async function takeSession(redis: Redis, encKey: string, sessionId: string): Promise<OAuthSession> {
  const sealed = SESSION_ID.test(sessionId) ? await redis.getdel(rk.oauthSession(sessionId)) : null
  const session = sealed ? unseal(sealed, encKey) : null
  if (!session) throw new OAuthError('session_expired', 'OAuth session not found: it expired (10 minutes), was already used, or is being used. Generate a new authorization URL.')
  return session
}

/** Put a taken session back until its original expiry (after a failed exchange, for a retry). */
export async function restoreSession(redis: Redis, encKey: string, session: OAuthSession, now = Date.now()): Promise<void> {
  const left = session.expiresAt - now
  if (left > 0) await redis.set(rk.oauthSession(session.id), seal(session, encKey), 'PX', left, 'NX')
}

function seal(s: OAuthSession, encKey: string): string {
  return encryptSecret(JSON.stringify(s), encKey)
}

function unseal(sealed: string, encKey: string): OAuthSession | null {
  try {
    const s = JSON.parse(decryptSecret(sealed, encKey)) as OAuthSession
    return s && typeof s.verifier === 'string' && typeof s.state === 'string' ? s : null
  }
  catch {
    // Written with another ENCRYPTION_KEY or damaged: as good as expired.
    return null
  }
}
