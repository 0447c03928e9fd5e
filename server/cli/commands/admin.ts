import { changeAdminPassword, createAdmin } from '../../admin/users'
import { rk } from '../../store/keys'
import { CliError, UsageError, type Values } from '../args'
import { type Command, helpText } from '../command'
import type { CliContext } from '../context'
import { table } from '../output'
import { newPassword } from '../prompt'
import { scanKeys } from '../scan'

const PASSWORD_HELP: [string, string] = ['--password PW', 'the password (visible in the process list: prefer the prompt, or pipe it on stdin)']

function username(values: Values, usage: string): string {
  const u = typeof values.username === 'string' ? values.username.trim() : ''
  if (!u) throw new UsageError('--username is required', usage)
  if (u.length > 100 || /[\p{Cc}\s]/u.test(u)) throw new UsageError('--username must be at most 100 characters, without spaces or control characters', usage)
  return u
}

const password = (ctx: CliContext, values: Values, usage: string) =>
  newPassword(typeof values.password === 'string' ? values.password : undefined, ctx.stdin, ctx.out.streams.stderr, usage)

const createUsage = helpText('admin create --username NAME [--password PW]', 'Create an admin user of the web UI. Without --password it asks on a terminal, or reads the first line of stdin.', [
  ['--username NAME', 'login name (required)'], PASSWORD_HELP,
], ['admin create --username alice', 'admin create --username ops < password.txt'])

const resetUsage = helpText('admin reset-password --username NAME [--password PW]', 'Set a new password for an admin and end their sessions. Without --password it asks on a terminal, or reads the first line of stdin.', [
  ['--username NAME', 'the admin (required)'], PASSWORD_HELP,
])

export const commands: Command[] = [
  {
    name: 'admin create',
    summary: 'create an admin user',
    usage: createUsage,
    options: { username: { type: 'string' }, password: { type: 'string' } },
    async run(ctx, values) {
      const name = username(values, createUsage)
      const redis = await ctx.redis()
      if (await redis.exists(rk.adminUsername(name))) throw new CliError(`admin "${name}" already exists (to change the password: admin reset-password --username ${name})`)
      const pw = await password(ctx, values, createUsage)
      if (!await createAdmin(redis, name, pw)) throw new CliError(`admin "${name}" already exists`)
      const id = await redis.get(rk.adminUsername(name))
      ctx.out.result({ id, username: name }, () => `Created admin "${name}"`)
    },
  },
  {
    name: 'admin reset-password',
    summary: 'set a new password for an admin',
    usage: resetUsage,
    options: { username: { type: 'string' }, password: { type: 'string' } },
    async run(ctx, values) {
      const name = username(values, resetUsage)
      const redis = await ctx.redis()
      const id = await redis.get(rk.adminUsername(name))
      if (!id) throw new CliError(`no admin "${name}" (see: admin list)`)
      const pw = await password(ctx, values, resetUsage)
      const revoked = await changeAdminPassword(redis, id, pw)
      if (revoked === null) throw new CliError(`admin "${name}" points at a missing record ${id} (run: npm run check:integrity)`)
      ctx.out.result({ id, username: name, sessionsRevoked: revoked }, () =>
        `New password set for admin "${name}"${revoked ? `; ${revoked} session${revoked === 1 ? '' : 's'} ended` : ''}`)
    },
  },
  {
    name: 'admin list',
    summary: 'list admin users',
    usage: helpText('admin list', 'List the admin users.'),
    async run(ctx) {
      const redis = await ctx.redis()
      const names = (await scanKeys(redis, rk.adminUsername('*'))).map(k => k.slice(rk.adminUsername('').length))
      const admins = await Promise.all(names.map(async (name) => {
        const id = await redis.get(rk.adminUsername(name))
        return { id, username: name, createdAt: id ? await redis.hget(rk.admin(id), 'createdAt') : null }
      }))
      ctx.out.result({ items: admins, total: admins.length }, () => table(['USERNAME', 'ID', 'CREATED'], admins.map(a => [a.username, a.id ?? '-', a.createdAt ?? '-'])))
    },
  },
]
