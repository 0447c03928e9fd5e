import { decodeJwt } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getAccount, createAccount } from '../../server/accounts/store'
import { writeState } from '../../server/accounts/state'
import { createSession } from '../../server/admin/sessions'
import { verifyAdmin } from '../../server/admin/users'
import { hashApiKey } from '../../server/crypto'
import { rk } from '../../server/store/keys'
import { FakeOAuthServer } from '../fixtures/oauth-server'
import { pollUntil } from '../helpers/client'
import { CliSandbox, PROXY, CONSOLE_KEY, seedDataset } from '../helpers/cli'
import { freePort, TestServer } from '../helpers/server'

// `npm run cli`: each test runs scripts/cli.ts as a child process against its own key prefix in
// the test Redis and checks exit code, output and what changed in Redis. Tests run concurrently
// (each has its own prefix) because every CLI start costs a second or two.

const sandboxes: CliSandbox[] = []
// For `health`: started before the CLI runs begin, so its start is not slowed by them.
const server = new TestServer()
beforeAll(() => server.start())
afterAll(() => server.stop())
async function sandbox(): Promise<CliSandbox> {
  const s = new CliSandbox()
  sandboxes.push(s)
  await s.listen()
  return s
}
afterAll(() => Promise.all(sandboxes.map(s => s.close())))

// Generous per-test limit: a loaded CI box can take several seconds per CLI start.
describe.concurrent('npm run cli', { timeout: 90_000 }, () => {
  it('prints help, and refuses unknown commands and options with exit code 2 and the usage', async () => {
    const s = await sandbox()
    const [help, createHelp, unknown, badOption] = await Promise.all([
      s.cli('--help'), s.cli('keys', 'create', '--help'), s.cli('frobnicate'), s.cli('keys', 'create', '--name', 'x', '--bogus'),
    ])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: npm run cli -- <command>/)
    for (const group of ['keys', 'accounts', 'admin', 'status', 'health']) expect(help.stdout).toContain(`  ${group}`)
    expect(createHelp.code).toBe(0)
    expect(createHelp.stdout).toContain('--limit-requests N')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'[\s\S]*Usage:/)
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toMatch(/--bogus[\s\S]*Usage: npm run cli -- keys create/)
    expect(badOption.stdout + unknown.stdout).toBe('')
  })

  it('keys: create prints the key once and stores only its HMAC; list, show, disable, enable, delete by id and name', async () => {
    const s = await sandbox()
    const [created, second] = await Promise.all([
      s.cli('keys', 'create', '--name', 'ci-bot', '--window', '1', '--limit-requests', '5', '--daily-cost', '2.5',
        '--models', 'claude-sonnet-*,claude-haiku-*', '--tags', 'ci,ops', '--expires', '30d', '--permissions', 'claude'),
      s.cli('keys', 'create', '--name', 'other', '--json'),
    ])
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    const apiKey = created.stdout.match(/cr_[0-9a-f]{64}/g)!
    expect(apiKey).toHaveLength(1)
    const id = /\(([0-9a-f-]{36})\)/.exec(created.stdout)![1]!
    expect(await s.redis.get(rk.apiKeyHash(hashApiKey(apiKey[0]!, s.secrets.API_KEY_SALT!)))).toBe(id)
    const record = await s.redis.hgetall(rk.apiKey(id))
    expect(record).toMatchObject({ name: 'ci-bot', rateLimitWindow: '1', rateLimitRequests: '5', dailyCostLimit: '2.5', permissions: 'claude', isActive: '1' })
    expect(JSON.parse(record.allowedModels!)).toEqual(['claude-sonnet-*', 'claude-haiku-*'])
    expect(Date.parse(record.expiresAt!) - Date.now()).toBeGreaterThan(29 * 86_400_000)
    expect(JSON.stringify(record)).not.toContain(apiKey[0])
    const other = JSON.parse(second.stdout) as { id: string, apiKey: string, hash?: string }
    expect(other.apiKey).toMatch(/^cr_[0-9a-f]{64}$/)
    expect(other.hash).toBeUndefined()

    const [list, search, show, missing, disabled] = await Promise.all([
      s.cli('keys', 'list'), s.cli('keys', 'list', '--search', 'ci-', '--json'), s.cli('keys', 'show', 'ci-bot', '--json'),
      s.cli('keys', 'show', 'no-such-key'), s.cli('keys', 'disable', 'other'),
    ])
    expect(list.stdout).toMatch(new RegExp(`${id}\\s+ci-bot\\s+active\\s+5 req/1m, \\$2.5/day`))
    expect(list.stdout).toContain(other.id)
    expect((JSON.parse(search.stdout) as { items: { id: string }[] }).items.map(k => k.id)).toEqual([id])
    const shown = JSON.parse(show.stdout) as Record<string, unknown>
    expect(shown).toMatchObject({ id, name: 'ci-bot', tags: ['ci', 'ops'], usage: { total: { requests: 0 } } })
    expect(shown.hash).toBeUndefined()
    expect(show.stdout).not.toContain('cr_')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no API key with id or name "no-such-key"')
    expect(disabled.code).toBe(0)
    expect(await s.redis.hget(rk.apiKey(other.id), 'isActive')).toBe('0')

    const [enabled, deleted] = await Promise.all([s.cli('keys', 'enable', other.id), s.cli('keys', 'delete', 'ci-bot', '--json')])
    expect(enabled.code).toBe(0)
    expect(await s.redis.hget(rk.apiKey(other.id), 'isActive')).toBe('1')
    expect(deleted.code).toBe(0)
    expect(await s.redis.exists(rk.apiKey(id), rk.apiKeyHash(record.hash!))).toBe(0)
    expect(await s.redis.zscore(rk.apiKeyIndex(), id)).toBeNull()
    // Running servers hear about every change (and drop their cached copy).
    const heard = await pollUntil(async () => [...s.published], m => m.length >= 3, 2000)
    expect(heard.sort()).toEqual([`api_key:${id}`, `api_key:${other.id}`, `api_key:${other.id}`].sort())
  })

  it('accounts: list shows both platforms with state and redacted proxy; reset clears the state', async () => {
    const s = await sandbox()
    const { claude, gemini } = await seedDataset(s.redis, s.secrets)
    const [json, text] = await Promise.all([s.cli('accounts', 'list', '--json'), s.cli('accounts', 'list')])
    expect(json.code).toBe(0)
    const items = (JSON.parse(json.stdout) as { items: { id: string, platform: string, type: string, proxy: string | null, status: { state: string } }[] }).items
    expect(items.map(a => [a.platform, a.type, a.status.state]).sort()).toEqual([['claude', 'console', 'rate_limited'], ['gemini', 'oauth', 'active']])
    expect(items.find(a => a.id === claude.id)!.proxy).toBe('socks5://proxyuser:***@proxy.example.test:1080')
    for (const out of [json.stdout, text.stdout]) {
      expect(out).not.toContain('proxy-pass-91c2')
      expect(out).not.toContain(CONSOLE_KEY)
    }
    expect(text.stdout).toMatch(new RegExp(`${claude.id}\\s+claude\\s+console\\s+console-1\\s+rate_limited\\s+socks5://proxyuser:\\*\\*\\*@`))
    expect(text.stdout).toContain(gemini.id)

    const reset = await s.cli('accounts', 'reset', claude.id)
    expect(reset.code).toBe(0)
    expect(reset.stdout).toContain('Cleared state rate_limited')
    expect(await s.redis.hget(rk.accountStates(), `claude:${claude.id}`)).toBeNull()
    expect(await pollUntil(async () => [...s.published], m => m.length > 0, 2000)).toEqual([`claude_account_state:${claude.id}`])
  })

  it('accounts add-setup-token: the token from stdin (never argv), stored encrypted as a setup-token account; bad input is refused', async () => {
    const s = await sandbox()
    const token = 'sk-ant-oat01-cli-setup-token-5f3a'
    const added = await s.run('cli.ts', ['accounts', 'add-setup-token', '--name', 'max-cli', '--expires-at', '2027-12-01T00:00:00Z', '--json'], { input: `${token}\n` })
    expect(added.code, added.stderr).toBe(0)
    expect(added.stdout).not.toContain(token)
    const view = JSON.parse(added.stdout) as { id: string, type: string, clients: string, oauth: { expiresAt: string } }
    expect(view).toMatchObject({ type: 'setup-token', clients: 'claude-code', oauth: { expiresAt: '2027-12-01T00:00:00.000Z' } })
    const stored = await getAccount(s.redis, s.secrets.ENCRYPTION_KEY!, 'claude', view.id)
    expect(stored!.oauth).toMatchObject({ accessToken: token, refreshToken: '' })
    expect(JSON.stringify(await s.redis.hgetall(`claude_account:${view.id}`))).not.toContain(token)
    expect(await pollUntil(async () => [...s.published], m => m.length > 0, 2000)).toContain(`claude_account:${view.id}`)

    const empty = await s.run('cli.ts', ['accounts', 'add-setup-token', '--name', 'no-token'], { input: '' })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toContain('no token')
    const noName = await s.run('cli.ts', ['accounts', 'add-setup-token'], { input: `${token}\n` })
    expect(noName.code).toBe(2)
    expect(noName.stderr).toMatch(/name/)
  })

  it('accounts refresh: a new OAuth token now, through the token endpoint; a console account is refused', async () => {
    const s = await sandbox()
    const tokens = await new FakeOAuthServer().start()
    try {
      tokens.addRefreshToken('rt-cli-1')
      const oauth = await createAccount(s.redis, s.encKey, 'claude', {
        name: 'max-1', type: 'oauth', oauth: { accessToken: 'old-access', refreshToken: 'rt-cli-1', expiresAt: Date.now() + 3_600_000, scopes: [], email: null, organization: null },
      })
      const consoleAccount = await createAccount(s.redis, s.encKey, 'claude', { name: 'api-1', type: 'console', apiKey: CONSOLE_KEY, proxy: PROXY })
      const env = { CLAUDE_OAUTH_TOKEN_URL: tokens.url() }
      const [ok, refused] = await Promise.all([
        s.run('cli.ts', ['accounts', 'refresh', 'max-1', '--json'], { env }), s.run('cli.ts', ['accounts', 'refresh', consoleAccount.id], { env }),
      ])
      expect(ok.stderr).toBe('')
      expect(ok.code).toBe(0)
      expect(tokens.refreshCount).toBe(1)
      const after = (await getAccount(s.redis, s.encKey, 'claude', oauth.id))!.oauth!
      expect(after.accessToken).not.toBe('old-access')
      expect((JSON.parse(ok.stdout) as { expiresAt: string }).expiresAt).toBe(new Date(after.expiresAt).toISOString())
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('only OAuth accounts')
    }
    finally {
      await tokens.stop()
    }
  })

  it('admin create (password on stdin) and reset-password (ends the admin\'s sessions)', async () => {
    const s = await sandbox()
    const created = await s.run('cli.ts', ['admin', 'create', '--username', 'ops'], { input: 'first-password\n' })
    expect(created.code).toBe(0)
    const admin = (await verifyAdmin(s.redis, 'ops', 'first-password'))!
    expect(admin.username).toBe('ops')
    // A live session made as login makes one (its record and the admin's session index).
    const { jti } = decodeJwt((await createSession(s.redis, 'cli-test-secret-0123456789abcdef', admin, 1)).token)
    const [again, short, reset] = await Promise.all([
      s.run('cli.ts', ['admin', 'create', '--username', 'ops'], { input: 'other-password\n' }),
      s.cli('admin', 'create', '--username', 'x', '--password', 'short'),
      s.cli('admin', 'reset-password', '--username', 'ops', '--password', 'second-password', '--json'),
    ])
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('already exists')
    expect(short.code).toBe(2)
    expect(reset.code).toBe(0)
    expect(JSON.parse(reset.stdout)).toMatchObject({ username: 'ops', sessionsRevoked: 1 })
    expect(await verifyAdmin(s.redis, 'ops', 'second-password')).not.toBeNull()
    expect(await verifyAdmin(s.redis, 'ops', 'first-password')).toBeNull()
    expect(await s.redis.exists(rk.session(jti!))).toBe(0)
  })

  it('status counts keys, admins and accounts by platform and state, and today\'s usage', async () => {
    const s = await sandbox()
    const { gemini } = await seedDataset(s.redis, s.secrets)
    await writeState(s.redis, 'gemini', gemini.id, { state: 'error', reason: 'refused', since: Date.now(), until: 0 })
    const [json, text] = await Promise.all([s.cli('status', '--json'), s.cli('status')])
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({
      redis: { status: 'ok', prefix: s.prefix },
      keys: { total: 2 },
      admins: { total: 1 },
      accounts: { total: 2, claude: { byState: { rate_limited: 1 } }, gemini: { byState: { error: 1 } } },
      usage: { today: { requests: 2, costMicros: 2468, tokens: 250 }, keysUsedToday: 2 },
    })
    expect(text.stdout).toMatch(/api keys:\s+2/)
    expect(text.stdout).toMatch(/claude accounts:\s+1 \(1 rate_limited\)/)
  })

  it('health: 0 against a running server, non-zero when nothing listens', async () => {
    const s = await sandbox()
    const [up, down] = await Promise.all([s.cli('health', '--url', server.url, '--json'), s.cli('health', '--url', `http://127.0.0.1:${await freePort()}`, '--timeout', '2')])
    expect(up.code).toBe(0)
    expect(JSON.parse(up.stdout)).toMatchObject({ status: 'healthy', httpStatus: 200, components: { redis: { status: 'healthy' } } })
    expect(down.code).toBe(1)
    expect(down.stderr).toContain('unreachable')
  })

  it('without Redis: exit code 1, naming REDIS_URL', async () => {
    const s = await sandbox()
    const r = await s.run('cli.ts', ['status'], { env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` } })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/cannot reach Redis at REDIS_URL .*ECONNREFUSED/)
  })
})
