import { randomUUID } from 'node:crypto'
import type Redis from 'ioredis'
import { hashPassword, randomToken, verifyPassword } from '../crypto'
import { rk } from '../store/keys'
import { revokeAdminSessions } from './sessions'

export interface AdminUser {
  id: string
  username: string
  passwordHash: string
  createdAt: string
}

async function countAdmins(redis: Redis): Promise<number> {
  let cursor = '0'
  let n = 0
  do {
    // admin_username:* is small (a handful of admins); SCAN never blocks Redis.
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${redis.options.keyPrefix}${rk.adminUsername('*')}`, 'COUNT', 1000)
    cursor = next
    n += keys.length
  } while (cursor !== '0')
  return n
}

/** Create an admin; false when the username is taken (SET NX makes racing instances safe). */
export async function createAdmin(redis: Redis, username: string, password: string): Promise<boolean> {
  const user: AdminUser = { id: randomUUID(), username, passwordHash: await hashPassword(password), createdAt: new Date().toISOString() }
  // Write the record first so the username never points at a half-written admin.
  await redis.hset(rk.admin(user.id), { ...user })
  if (await redis.set(rk.adminUsername(username), user.id, 'NX')) return true
  await redis.del(rk.admin(user.id))
  return false
}

/**
 * First run: when no admin exists, create one from ADMIN_USERNAME/ADMIN_PASSWORD, or with a
 * generated password. Returns what was created (the generated password is to be shown once).
 */
export async function bootstrapAdmin(redis: Redis, username: string, password?: string): Promise<{ username: string, generatedPassword?: string } | null> {
  if (await countAdmins(redis) > 0) return null
  const pw = password ?? randomToken(18)
  if (!await createAdmin(redis, username, pw)) return null
  return { username, generatedPassword: password ? undefined : pw }
}

/** Check credentials; null when the user is unknown or the password wrong (same work either way). */
export async function verifyAdmin(redis: Redis, username: string, password: string): Promise<AdminUser | null> {
  const id = await redis.get(rk.adminUsername(username))
  const user = id ? await redis.hgetall(rk.admin(id)) as unknown as AdminUser : null
  // Hash even for unknown users so response time does not reveal which usernames exist.
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH)
  return ok && user?.id ? user : null
}

// scrypt of a random password nobody knows, with the same parameters as real hashes.
const DUMMY_HASH = 'scrypt$65536$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

/**
 * Set a new password for an admin (scrypt) and end their sessions but `keepSession` (the one that
 * asked for the change). Null when the admin is gone, else how many sessions ended. The web API and
 * the CLI both change passwords through here.
 */
export async function changeAdminPassword(redis: Redis, adminId: string, password: string, keepSession?: string): Promise<number | null> {
  if (!await redis.exists(rk.admin(adminId))) return null
  await redis.hset(rk.admin(adminId), 'passwordHash', await hashPassword(password))
  return revokeAdminSessions(redis, adminId, keepSession)
}
