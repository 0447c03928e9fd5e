import type Redis from 'ioredis'
import { ensureFreshToken } from '../../accounts/oauth-refresh'
import { effectiveState, readStates } from '../../accounts/state'
import { type Account, getAccount, listAccounts, type Platform, toAccountView } from '../../accounts/store'
import { DecryptError } from '../../crypto'
import { accountWrites } from '../../accounts/writes'
import { rk } from '../../store/keys'
import { claudeAccountInput } from '../../admin/account-input'
import { ClaudeAccountCreateSchema } from '../../admin/schemas'
import { CliError, UsageError } from '../args'
import { secretInput } from '../prompt'
import { type Command, helpText } from '../command'
import type { CliContext } from '../context'
import { type Output, table } from '../output'

const PLATFORMS: Platform[] = ['claude', 'gemini']

/** The server's own account writes (write, then tell every running instance), on the CLI's connection. */
const writesFor = (ctx: CliContext, redis: Redis, platform: Platform) =>
  accountWrites(platform, () => ({ redis, cfg: ctx.config(), publish: m => ctx.invalidate(m) }))

/** One row of `accounts list`: the admin view, or what can be read of an account whose secrets do not decrypt. */
type AccountRow = ReturnType<typeof toAccountView> | { id: string, platform: Platform, type: string, name: string, isActive: boolean, proxy: null, status: { state: 'undecryptable' } }

/**
 * A platform's accounts as admins see them. When a secret does not decrypt (another
 * ENCRYPTION_KEY), the others are still listed and that one is marked instead of failing the list.
 */
async function listRows(redis: Redis, encKey: string, platform: Platform): Promise<AccountRow[]> {
  try {
    return (await listAccounts(redis, encKey, platform)).map(toAccountView)
  }
  catch (err) {
    if (!(err instanceof DecryptError)) throw err
  }
  const rows: AccountRow[] = []
  for (const id of await redis.smembers(rk.accountIndex(platform))) {
    try {
      const a = await getAccount(redis, encKey, platform, id)
      if (a) rows.push(toAccountView(a))
    }
    catch {
      const h = await redis.hgetall(rk.account(platform, id))
      rows.push({ id, platform, type: h.type ?? '?', name: h.name ?? '', isActive: h.isActive === '1', proxy: null, status: { state: 'undecryptable' } })
    }
  }
  return rows
}

/** An account's identity (no secret read, so this works when they do not decrypt). */
interface AccountRef { platform: Platform, id: string, name: string, type: string }

/** An account of either platform by id, or by exact name; fails when none or several match. */
async function resolveAccount(redis: Redis, ref: string): Promise<AccountRef> {
  const found: AccountRef[] = []
  for (const platform of PLATFORMS) {
    const ids = await redis.smembers(rk.accountIndex(platform))
    const pipe = redis.pipeline()
    for (const id of ids) pipe.hmget(rk.account(platform, id), 'name', 'type')
    const rows = ((await pipe.exec()) ?? []).map(([, v]) => v as (string | null)[])
    ids.forEach((id, i) => {
      const [name, type] = rows[i]!
      if (name !== null && (id === ref || name === ref)) found.push({ platform, id, name, type: type ?? '' })
    })
  }
  // An id match wins over a name that happens to equal another account's id.
  const byId = found.filter(a => a.id === ref)
  if (byId.length) return byId[0]!
  if (found.length === 0) throw new CliError(`no account with id or name "${ref}" (see: accounts list)`)
  if (found.length > 1) throw new CliError(`${found.length} accounts are named "${ref}": use the id (${found.map(a => `${a.platform} ${a.id}`).join(', ')})`)
  return found[0]!
}

/** The decrypted account behind `ref`, when it is an OAuth account whose secrets decrypt. */
async function loadOAuthAccount(redis: Redis, encKey: string, ref: AccountRef): Promise<Account & { oauth: NonNullable<Account['oauth']> }> {
  if (ref.type !== 'oauth') throw new CliError(`account "${ref.name}" is a ${ref.type} account: only OAuth accounts have tokens to refresh`)
  let account: Account | null
  try {
    account = await getAccount(redis, encKey, ref.platform, ref.id)
  }
  catch (err) {
    if (!(err instanceof DecryptError)) throw err
    throw new CliError(`the secrets of account "${ref.name}" do not decrypt with the current ENCRYPTION_KEY (see npm run check:integrity)`)
  }
  if (!account?.oauth) throw new CliError(`account "${ref.name}" has no OAuth tokens`)
  return account as Account & { oauth: NonNullable<Account['oauth']> }
}

const stateText = (r: AccountRow) => (!r.isActive ? 'disabled' : r.status.state)
const paintState = (out: Output, s: string) => out.paint(s === 'active' ? 'green' : s === 'disabled' ? 'dim' : s === 'undecryptable' || s === 'error' || s === 'blocked' ? 'red' : 'yellow', s)

const addSetupTokenUsage = helpText(
  'accounts add-setup-token --name NAME [--expires-at DATE] [--proxy URL]',
  'Add a Claude subscription (Pro/Max) account from the long-lived token `claude setup-token` prints. The token is asked for on a terminal (not echoed) or read from the first line of stdin — never from the command line, where the process list would show it. It is never refreshed: add a new one before it expires.',
  [
    ['--name NAME', 'the account\'s name'],
    ['--expires-at DATE', 'when the token expires (ISO date; about a year after `claude setup-token`), so the console warns 14 days ahead'],
    ['--proxy URL', 'socks5://user:pass@host:port or http://host:port, as for any account'],
  ],
  ['claude setup-token   # on a machine with a browser; copy the token', 'npm run cli -- accounts add-setup-token --name max-1 --expires-at 2027-12-01 < token.txt'],
)

export const commands: Command[] = [
  {
    name: 'accounts list',
    summary: 'list Claude and Gemini accounts with their state',
    usage: helpText('accounts list [--platform claude|gemini]', 'List upstream accounts of both platforms (proxy passwords redacted, never a key or token).', [
      ['--platform P', 'only claude or only gemini accounts'],
    ]),
    options: { platform: { type: 'string' } },
    async run(ctx, values) {
      const only = values.platform
      if (only !== undefined && !PLATFORMS.includes(only as Platform)) throw new UsageError(`--platform must be claude or gemini (got ${String(only)})`, this.usage)
      const redis = await ctx.redis()
      const encKey = ctx.config().secrets.encryptionKey
      const rows = (await Promise.all(PLATFORMS.filter(p => !only || p === only).map(p => listRows(redis, encKey, p)))).flat()
      ctx.out.result({ items: rows, total: rows.length }, () => rows.length === 0
        ? 'No accounts yet (add one in the admin UI).'
        : table(['ID', 'PLATFORM', 'TYPE', 'NAME', 'STATE', 'PROXY'], rows.map(r => [
            r.id, r.platform, r.type, r.name, paintState(ctx.out, stateText(r)), r.proxy ?? '-',
          ])))
    },
  },
  {
    name: 'accounts add-setup-token',
    summary: 'add a Claude subscription from the token `claude setup-token` prints',
    usage: addSetupTokenUsage,
    options: { 'name': { type: 'string' }, 'expires-at': { type: 'string' }, 'proxy': { type: 'string' } },
    async run(ctx, values) {
      const accessToken = await secretInput(ctx.stdin, ctx.out.streams.stderr, 'Setup token: ', this.usage)
      // The admin API's own validation, so the CLI accepts exactly what the API does.
      const parsed = ClaudeAccountCreateSchema.safeParse({
        type: 'setup-token', name: values.name, accessToken,
        ...(values['expires-at'] !== undefined ? { expiresAt: values['expires-at'] } : {}),
        ...(values.proxy !== undefined ? { proxy: values.proxy } : {}),
      })
      if (!parsed.success) throw new UsageError(parsed.error.issues.map(i => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '), this.usage)
      const redis = await ctx.redis()
      const account = await writesFor(ctx, redis, 'claude').create(claudeAccountInput(parsed.data))
      const view = toAccountView(account)
      ctx.out.result(view, () => `Added Claude setup-token account "${account.name}" (${account.id})${view.oauth?.expiresAt ? `; the token expires at ${view.oauth.expiresAt}` : '; its expiry is unknown (pass --expires-at to be warned ahead of it)'}`)
    },
  },
  {
    name: 'accounts refresh',
    summary: 'refresh an OAuth account\'s access token now',
    usage: helpText('accounts refresh <id|name>', 'Refresh the OAuth access token of an account now (through its proxy; one refresh across all instances).'),
    args: ['id|name'],
    async run(ctx, _values, [ref]) {
      const redis = await ctx.redis()
      const cfg = ctx.config()
      const account = await loadOAuthAccount(redis, cfg.secrets.encryptionKey, await resolveAccount(redis, ref!))
      try {
        await ensureFreshToken(account, writesFor(ctx, redis, account.platform).refreshDeps(), { force: true })
      }
      catch (err) {
        throw new CliError(`token refresh of "${account.name}" failed: ${(err as Error).message}`)
      }
      const expiresAt = new Date(account.oauth.expiresAt).toISOString()
      ctx.out.result({ id: account.id, platform: account.platform, name: account.name, expiresAt }, () =>
        `Refreshed the token of ${account.platform} account "${account.name}" (${account.id}); it expires at ${expiresAt}`)
    },
  },
  {
    name: 'accounts reset',
    summary: 'clear an account\'s state (back into the pool)',
    usage: helpText('accounts reset <id|name>', 'Clear an account\'s state (rate_limited, overloaded, cooldown, error, blocked) so the scheduler uses it again.'),
    args: ['id|name'],
    async run(ctx, _values, [ref]) {
      const redis = await ctx.redis()
      const account = await resolveAccount(redis, ref!)
      const before = (await readStates(redis, account.platform)).get(account.id)
      await writesFor(ctx, redis, account.platform).setState(account.id, null)
      const previous = before ? `${before.state}${effectiveState(before).state === 'active' ? ' (already over)' : ''}` : ''
      ctx.out.result({ id: account.id, platform: account.platform, name: account.name, previousState: before ?? null }, () =>
        before ? `Cleared state ${previous} of ${account.platform} account "${account.name}" (${account.id})` : `${account.platform} account "${account.name}" had no state to clear`)
    },
  },
]
