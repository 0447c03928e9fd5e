import { createDecipheriv, scryptSync } from 'node:crypto'

/**
 * The fixed scrypt salt each CRS account kind derives its AES key with (CRS's account services):
 * the same ENCRYPTION_KEY gives a different key per kind, so each field is decrypted with its kind's.
 */
export const CRS_SALTS = {
  claude: 'salt',
  claudeConsole: 'claude-console-salt',
  gemini: 'gemini-account-salt',
  geminiApi: 'gemini-api-salt',
} as const

export type CrsSaltKind = keyof typeof CRS_SALTS

/**
 * The CRS secret cannot decrypt a stored value. Thrown at the first encrypted field that does not
 * decrypt, before anything is written: CBC has no MAC, so a wrong key shows as a padding failure
 * or as plaintext that is not text of the expected shape.
 */
export class WrongCrsKeyError extends Error {
  constructor(where: string) {
    super(`--crs-encryption-key does not decrypt ${where}: give the ENCRYPTION_KEY the claude-relay-service deployment runs with (nothing was written)`)
    this.name = 'WrongCrsKeyError'
  }
}

/** A stored value that is not in CRS's `ivhex:cipherhex` form (not a wrong key: a record to skip). */
export class CrsSecretFormatError extends Error {
  constructor(where: string) {
    super(`${where} is not in CRS's encrypted form (iv:ciphertext, hex)`)
    this.name = 'CrsSecretFormatError'
  }
}

const FORM = /^([0-9a-f]{32}):((?:[0-9a-f]{32})+)$/i
const utf8 = new TextDecoder('utf-8', { fatal: true })
// Tokens and keys are printable ASCII; JSON blobs may carry any text but no control characters beyond whitespace.
const TOKEN = /^[\x21-\x7E]+$/
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const CONTROL = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]/

/** What a decrypted field must look like: a token (key, OAuth token), JSON, or plain text (an e-mail). */
export type SecretShape = 'token' | 'json' | 'text'

/**
 * Decrypts CRS secrets of one deployment: scrypt(secret, salt, 32) per kind, derived once (scrypt
 * is slow on purpose), AES-256-CBC on `ivhex:cipherhex`.
 */
export class CrsDecryptor {
  private readonly keys = new Map<CrsSaltKind, Buffer>()

  constructor(private readonly secret: string) {}

  private key(kind: CrsSaltKind): Buffer {
    let k = this.keys.get(kind)
    if (!k) this.keys.set(kind, k = scryptSync(this.secret, CRS_SALTS[kind], 32))
    return k
  }

  /**
   * The plaintext of `value` ('' for an empty field). `where` names the field in errors (never its
   * value). Throws WrongCrsKeyError when the key does not fit, CrsSecretFormatError for a value
   * that is not CRS ciphertext at all.
   */
  decrypt(kind: CrsSaltKind, value: string | undefined, shape: SecretShape, where: string): string {
    if (!value) return ''
    const m = FORM.exec(value)
    if (!m) throw new CrsSecretFormatError(where)
    let plain: string
    try {
      const d = createDecipheriv('aes-256-cbc', this.key(kind), Buffer.from(m[1]!, 'hex'))
      plain = utf8.decode(Buffer.concat([d.update(Buffer.from(m[2]!, 'hex')), d.final()]))
    }
    catch {
      throw new WrongCrsKeyError(where)
    }
    if (!looksLike(plain, shape)) throw new WrongCrsKeyError(where)
    return plain
  }
}

function looksLike(plain: string, shape: SecretShape): boolean {
  if (shape === 'token') return TOKEN.test(plain)
  if (CONTROL.test(plain)) return false
  if (shape === 'text') return true
  try {
    const v: unknown = JSON.parse(plain)
    return typeof v === 'object' && v !== null
  }
  catch {
    return false
  }
}
