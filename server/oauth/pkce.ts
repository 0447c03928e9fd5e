import { createHash } from 'node:crypto'
import { randomToken } from '../crypto'

/** A PKCE pair (RFC 7636, S256 only: the plain method gives no protection if the URL leaks). */
export interface Pkce {
  verifier: string
  challenge: string
  method: 'S256'
}

/** A code verifier: 32 random bytes as base64url = 43 characters of [A-Za-z0-9_-]. */
export function createVerifier(): string {
  return randomToken(32)
}

/** The S256 challenge of a verifier: base64url(SHA-256(verifier)), no padding. */
export function challengeFor(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url')
}

/** A fresh verifier with its challenge. */
export function createPkce(): Pkce {
  const verifier = createVerifier()
  return { verifier, challenge: challengeFor(verifier), method: 'S256' }
}

/** A random `state` for the authorize URL (32 bytes, base64url). */
export function createState(): string {
  return randomToken(32)
}
