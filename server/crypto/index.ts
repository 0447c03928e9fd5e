import { createCipheriv, createDecipheriv, createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const scryptAsync = promisify(scrypt) as (pw: string, salt: Buffer, len: number, opts: object) => Promise<Buffer>

// Format of an encrypted secret: "v1." + base64url(iv[12] | tag[16] | ciphertext).
const VERSION = 'v1.'
const IV_BYTES = 12
const TAG_BYTES = 16

/** Thrown when a ciphertext is malformed, tampered with or was made with another key. */
export class DecryptError extends Error {
  constructor(message = 'cannot decrypt secret (tampered data or a different ENCRYPTION_KEY)') {
    super(message)
    this.name = 'DecryptError'
  }
}

function keyBytes(key: string): Buffer {
  const buf = Buffer.from(key, 'utf8')
  if (buf.length !== 32) throw new Error(`ENCRYPTION_KEY must be 32 bytes (got ${buf.length})`)
  return buf
}

/** AES-256-GCM encrypt with a random IV; the auth tag travels with the ciphertext. */
export function encryptSecret(plain: string, key: string): string {
  const iv = randomBytes(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keyBytes(key), iv)
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()])
  return VERSION + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url')
}

/** Decrypt a value from encryptSecret; throws DecryptError rather than ever returning ciphertext. */
export function decryptSecret(sealed: string, key: string): string {
  if (!sealed.startsWith(VERSION)) throw new DecryptError('not an encrypted secret')
  const raw = Buffer.from(sealed.slice(VERSION.length), 'base64url')
  if (raw.length < IV_BYTES + TAG_BYTES) throw new DecryptError('encrypted secret is truncated')
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyBytes(key), raw.subarray(0, IV_BYTES))
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
  }
  catch {
    throw new DecryptError()
  }
}

/** HMAC-SHA256(salt, apiKey) as hex: the only form in which API keys are stored. */
export function hashApiKey(apiKey: string, salt: string): string {
  return createHmac('sha256', salt).update(apiKey).digest('hex')
}

/** A new client key: "cr_" + 64 hex characters (256 random bits). */
export function generateApiKey(): string {
  return 'cr_' + randomBytes(32).toString('hex')
}

/** Constant-time string equality (length is not secret here; content is). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a)
  const bb = Buffer.from(b)
  return ab.length === bb.length && timingSafeEqual(ab, bb)
}

// scrypt N=2^16, r=8, p=1: 64 MiB and ~60 ms per hash here. OWASP suggests 2^17; half that keeps a
// login affordable on a 2-core box, and logins are throttled per IP and username anyway.
const SCRYPT = { N: 65536, r: 8, p: 1, maxmem: 96 * 1024 * 1024 }

/** Hash a password as "scrypt$N$r$p$salt$hash" (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password, salt, 32, SCRYPT)
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** Verify a password against hashPassword's output in constant time; false for anything malformed. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash, extra] = stored.split('$')
  const N = Number(n)
  const R = Number(r)
  const P = Number(p)
  // Only the form hashPassword writes: a power-of-two N within limits, small r/p, a 32-byte hash.
  const sane = kind === 'scrypt' && extra === undefined && Number.isInteger(N) && N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0
    && Number.isInteger(R) && R >= 1 && R <= 32 && Number.isInteger(P) && P >= 1 && P <= 16 && !!salt && !!hash
  if (!sane) return false
  const expected = Buffer.from(hash, 'base64url')
  if (expected.length !== 32) return false
  try {
    const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), 32, { N, r: R, p: P, maxmem: 256 * R * N + 16 * 1024 * 1024 })
    return timingSafeEqual(actual, expected)
  }
  catch {
    return false
  }
}

/** Random URL-safe token (ids, state values, generated passwords). */
export function randomToken(bytes = 16): string {
  return randomBytes(bytes).toString('base64url')
}
