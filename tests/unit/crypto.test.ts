import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  DecryptError, decryptSecret, encryptSecret, generateApiKey, hashApiKey, hashPassword, safeEqual, verifyPassword,
} from '../../server/crypto'

const KEY = '0123456789abcdef0123456789abcdef'
const OTHER_KEY = 'fedcba9876543210fedcba9876543210'
const IV_BYTES = 12
const TAG_BYTES = 16

/** The documented sealed format: "v1." + base64url(iv[12] | tag[16] | ciphertext). */
const unseal = (sealed: string) => Buffer.from(sealed.slice('v1.'.length), 'base64url')
const reseal = (raw: Buffer) => 'v1.' + raw.toString('base64url')

describe('encryptSecret / decryptSecret', () => {
  it.each([
    ['ASCII', 'sk-ant-api03-some-upstream-key'],
    ['unicode', 'pässwörd 日本語 🎉 \u0000 end'],
    ['empty string', ''],
    ['long string', 'x'.repeat(100_000) + '🎉'.repeat(1000)],
  ])('round-trips %s', (_label, plain) => {
    const sealed = encryptSecret(plain, KEY)
    expect(sealed.startsWith('v1.')).toBe(true)
    expect(sealed).not.toContain(plain || '\u0001never')
    expect(decryptSecret(sealed, KEY)).toBe(plain)
  })

  it('has the documented layout: iv, tag, then as many ciphertext bytes as plaintext bytes', () => {
    const plain = 'héllo'
    const raw = unseal(encryptSecret(plain, KEY))
    expect(raw.length).toBe(IV_BYTES + TAG_BYTES + Buffer.byteLength(plain))
  })

  it('uses a random IV: two encryptions of the same text differ and both decrypt', () => {
    const a = encryptSecret('same text', KEY)
    const b = encryptSecret('same text', KEY)
    expect(a).not.toBe(b)
    expect(unseal(a).subarray(0, IV_BYTES).equals(unseal(b).subarray(0, IV_BYTES))).toBe(false)
    expect(decryptSecret(a, KEY)).toBe('same text')
    expect(decryptSecret(b, KEY)).toBe('same text')
  })

  it.each([
    ['iv', 0, IV_BYTES],
    ['tag', IV_BYTES, IV_BYTES + TAG_BYTES],
    ['ciphertext', IV_BYTES + TAG_BYTES, Infinity],
  ])('rejects a flipped bit in every byte of the %s', (_part, from, to) => {
    const raw = unseal(encryptSecret('a secret worth protecting', KEY))
    const end = Math.min(to, raw.length)
    expect(end).toBeGreaterThan(from)
    for (let i = from; i < end; i++) {
      for (const bit of [0x01, 0x80]) {
        const tampered = Buffer.from(raw)
        tampered[i] = tampered[i]! ^ bit
        expect(() => decryptSecret(reseal(tampered), KEY), `byte ${i} bit ${bit}`).toThrow(DecryptError)
      }
    }
  })

  it('rejects a ciphertext with a byte appended or removed', () => {
    const raw = unseal(encryptSecret('abcdef', KEY))
    expect(() => decryptSecret(reseal(Buffer.concat([raw, Buffer.from([0])])), KEY)).toThrow(DecryptError)
    expect(() => decryptSecret(reseal(raw.subarray(0, raw.length - 1)), KEY)).toThrow(DecryptError)
  })

  it.each([
    ['a different 32-char key', OTHER_KEY],
    ['a key differing in one character', KEY.slice(0, -1) + 'g'],
  ])('rejects decryption with %s', (_label, key) => {
    const sealed = encryptSecret('top secret', KEY)
    expect(() => decryptSecret(sealed, key)).toThrow(DecryptError)
  })

  it.each([
    ['plain text', 'sk-ant-not-encrypted'],
    ['empty string', ''],
    ['another version', 'v2.' + unseal(encryptSecret('x', KEY)).toString('base64url')],
    ['upper-case prefix', 'V1.' + unseal(encryptSecret('x', KEY)).toString('base64url')],
  ])('rejects input that is not "v1." sealed: %s', (_label, input) => {
    expect(() => decryptSecret(input, KEY)).toThrow(DecryptError)
  })

  it.each([
    ['nothing after the prefix', 0],
    ['one byte', 1],
    ['only an iv', IV_BYTES],
    ['iv and a partial tag', IV_BYTES + TAG_BYTES - 1],
  ])('rejects truncated input: %s', (_label, bytes) => {
    const raw = unseal(encryptSecret('some secret', KEY))
    expect(() => decryptSecret(reseal(raw.subarray(0, bytes)), KEY)).toThrow(DecryptError)
  })

  it('DecryptError is an Error with its own name', () => {
    let caught: unknown
    try {
      decryptSecret(encryptSecret('x', KEY), OTHER_KEY)
    }
    catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(Error)
    expect((caught as Error).name).toBe('DecryptError')
  })

  it.each([
    ['31 ASCII bytes', 'a'.repeat(31), 31],
    ['33 ASCII bytes', 'a'.repeat(33), 33],
    ['empty', '', 0],
    ['32 characters but 64 UTF-8 bytes', 'é'.repeat(32), 64],
  ])('refuses to encrypt with an ENCRYPTION_KEY of %s', (_label, key, bytes) => {
    expect(() => encryptSecret('x', key)).toThrow(new RegExp(`32.*${bytes}`))
  })

  it('refuses to decrypt with an ENCRYPTION_KEY that is not 32 bytes', () => {
    const sealed = encryptSecret('x', KEY)
    expect(() => decryptSecret(sealed, KEY.slice(1))).toThrow()
  })

  it('accepts a key of 16 two-byte characters (32 UTF-8 bytes)', () => {
    const key = 'é'.repeat(16)
    expect(decryptSecret(encryptSecret('ok', key), key)).toBe('ok')
  })
})

describe('hashApiKey', () => {
  const salt = 'a-salt-of-sixteen+'

  it('is deterministic and 64 lower-case hex characters', () => {
    const h = hashApiKey('cr_abc', salt)
    expect(h).toMatch(/^[0-9a-f]{64}$/)
    expect(hashApiKey('cr_abc', salt)).toBe(h)
  })

  it('is HMAC-SHA256 keyed by the salt, as documented', () => {
    expect(hashApiKey('cr_abc', salt)).toBe(createHmac('sha256', salt).update('cr_abc').digest('hex'))
  })

  it.each([
    ['a different salt', 'cr_abc', salt + 'x'],
    ['a different key', 'cr_abd', salt],
    ['a key with a trailing space', 'cr_abc ', salt],
  ])('differs for %s', (_label, key, s) => {
    expect(hashApiKey(key, s)).not.toBe(hashApiKey('cr_abc', salt))
  })

  it('does not contain the key', () => {
    const key = generateApiKey()
    expect(hashApiKey(key, salt)).not.toContain(key.slice(3))
  })
})

describe('generateApiKey', () => {
  it('is "cr_" plus 64 hex characters and unique', () => {
    const keys = Array.from({ length: 1000 }, generateApiKey)
    for (const k of keys) expect(k).toMatch(/^cr_[0-9a-f]{64}$/)
    expect(new Set(keys).size).toBe(keys.length)
  })
})

describe('safeEqual', () => {
  it.each([
    ['abc', 'abc', true],
    ['abc', 'abd', false],
    ['abc', 'abcd', false],
    ['abcd', 'abc', false],
    ['', '', true],
    ['', 'a', false],
    ['日本語', '日本語', true],
    ['é', 'e', false],
    ['ABC', 'abc', false],
  ])('safeEqual(%j, %j) is %s', (a, b, expected) => {
    expect(safeEqual(a, b)).toBe(expected)
  })
})

describe('hashPassword / verifyPassword', () => {
  it('verifies the right password and rejects wrong ones', async () => {
    const stored = await hashPassword('correct horse battery')
    expect(stored.split('$')[0]).toBe('scrypt')
    expect(stored.split('$')).toHaveLength(6)
    expect(stored).not.toContain('correct horse battery')
    expect(await verifyPassword('correct horse battery', stored)).toBe(true)
    expect(await verifyPassword('correct horse batterY', stored)).toBe(false)
    expect(await verifyPassword('', stored)).toBe(false)
  })

  it('salts: the same password hashes differently each time, and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('pw-12345678'), hashPassword('pw-12345678')])
    expect(a).not.toBe(b)
    expect(await verifyPassword('pw-12345678', a)).toBe(true)
    expect(await verifyPassword('pw-12345678', b)).toBe(true)
  })

  it('handles a unicode password', async () => {
    const stored = await hashPassword('пароль 🎉')
    expect(await verifyPassword('пароль 🎉', stored)).toBe(true)
    expect(await verifyPassword('пароль', stored)).toBe(false)
  })

  // A well-formed salt (16 bytes) and hash (32 bytes) to build malformed variants from.
  const SALT = Buffer.alloc(16, 7).toString('base64url')
  const HASH = Buffer.alloc(32, 9).toString('base64url')
  it.each([
    ['an empty string', ''],
    ['garbage', 'not a hash at all'],
    ['another scheme', `bcrypt$65536$8$1$${SALT}$${HASH}`],
    ['a missing hash', `scrypt$65536$8$1$${SALT}`],
    ['an empty hash', `scrypt$65536$8$1$${SALT}$`],
    ['an empty salt', `scrypt$65536$8$1$$${HASH}`],
    ['a hash that decodes to zero bytes', `scrypt$65536$8$1$${SALT}$a`],
    ['a non-numeric N', `scrypt$abc$8$1$${SALT}$${HASH}`],
    ['an N that is not a power of two', `scrypt$3$8$1$${SALT}$${HASH}`],
    ['a non-numeric r', `scrypt$65536$x$1$${SALT}$${HASH}`],
  ])('returns false (never throws, never true) for a stored value with %s', async (_label, stored) => {
    await expect(verifyPassword('any password', stored)).resolves.toBe(false)
  })
})
