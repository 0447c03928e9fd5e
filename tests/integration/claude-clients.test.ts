import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

interface AccountView { id: string, type: string, clients: string }

const CLAUDE_CODE = 'claude-cli/2.0.0 (external, cli)'
const SDK = 'Anthropic/JS 0.60.0'
const NEEDS_ANY = 'No Claude account can serve this request: it needs an account that accepts any client (a Console API-key account); '
  + 'every active Claude account serves Claude Code only (ask the admin).'

// Issue 15 §5: Anthropic accepts a subscription token only from Claude Code. The relay sends other
// clients only to accounts that accept any client, and says so when it has none.
describe('Claude accounts serve the clients they are set to', () => {
  const upstream = new FakeAnthropic()
  const dir = mkdtempSync(join(tmpdir(), 'crs-clients-'))
  let server: TestServer
  let apiKey = ''
  let oauth: AccountView
  const accessToken = 'sk-ant-oat01-clients-test-token'

  beforeAll(async () => {
    await upstream.start()
    server = await new TestServer({ LOG_DIR: dir, LOG_LEVEL: 'info', CLAUDE_API_URL: upstream.url, OAUTH_REFRESH_INTERVAL_SECONDS: '0' }).start()
    const created = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', {
      type: 'oauth', name: 'max-subscription', refreshToken: 'sk-ant-ort01-clients-test', accessToken, expiresAt: Date.now() + 3600_000,
    })
    expect(created.status).toBe(201)
    oauth = created.body
    apiKey = (await server.createKey({ name: 'clients' })).apiKey
  })
  afterAll(async () => {
    await server?.stop()
    await upstream.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  beforeEach(() => upstream.reset())

  const send = async (userAgent: string) => {
    const res = await fetch(`${server.url}/api/v1/messages`, {
      method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'user-agent': userAgent }, body: messageBody(),
    })
    return { status: res.status, body: await res.text(), headers: res.headers }
  }
  const warnings = () => {
    const f = readdirSync(dir).find(n => n.startsWith('combined-') && n.endsWith('.log'))
    return f ? readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l) as { msg: string, accounts?: string }) : []
  }

  it('an OAuth account serves Claude Code only by default; a Console account any client', async () => {
    expect(oauth.clients).toBe('claude-code')
    const { status, body } = await server.admin<AccountView>('POST', '/api/admin/claude-accounts', { type: 'console', name: 'probe', apiUrl: upstream.url, apiKey: 'sk-ant-api03-x' })
    expect(status).toBe(201)
    expect(body.clients).toBe('any')
    await server.admin('DELETE', `/api/admin/claude-accounts/${body.id}`)
  })

  it('Claude Code reaches the OAuth account', async () => {
    const res = await send(CLAUDE_CODE)
    expect(res.status).toBe(200)
    expect(upstream.requests).toHaveLength(1)
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${accessToken}`)
    // Sent as it came: the relay never passes one client off as another.
    expect(upstream.requests[0]!.headers['user-agent']).toBe(CLAUDE_CODE)
  })

  it('an SDK with only OAuth accounts: 503 saying what is needed, nothing sent upstream, the admin log names the account passed over', async () => {
    const res = await send(SDK)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBeNull()
    expect(JSON.parse(res.body)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: NEEDS_ANY } })
    expect(upstream.requests).toHaveLength(0)
    const line = await pollUntil(async () => warnings().find(l => l.msg === 'no claude account can serve'), l => !!l, 5000)
    expect(line!.accounts).toBe(`max-subscription (${oauth.id}): passed over, serves Claude Code only`)
  })

  it('with a Console account added, the SDK request goes there (and Claude Code may use either)', async () => {
    const consoleKey = 'sk-ant-api03-clients-console'
    const { id } = await server.createConsoleAccount(upstream.url, { name: 'console', apiKey: consoleKey })
    try {
      const res = await send(SDK)
      expect(res.status).toBe(200)
      expect(upstream.requests).toHaveLength(1)
      expect(upstream.requests[0]!.headers['x-api-key']).toBe(consoleKey)
      expect(upstream.requests[0]!.headers.authorization).toBeUndefined()
    }
    finally {
      await server.admin('DELETE', `/api/admin/claude-accounts/${id}`)
    }
  })

  it('an OAuth account the admin switched to any receives the SDK request; switched back, it refuses it again', async () => {
    const put = await server.admin<AccountView>('PUT', `/api/admin/claude-accounts/${oauth.id}`, { clients: 'any' })
    expect(put.status).toBe(200)
    expect(put.body.clients).toBe('any')
    const res = await send(SDK)
    expect(res.status).toBe(200)
    expect(upstream.requests).toHaveLength(1)
    expect(upstream.requests[0]!.headers.authorization).toBe(`Bearer ${accessToken}`)
    expect((await server.admin<AccountView>('PUT', `/api/admin/claude-accounts/${oauth.id}`, { clients: 'claude-code' })).body.clients).toBe('claude-code')
    expect((await send(SDK)).status).toBe(503)
    expect(upstream.requests).toHaveLength(1)
  })

  it.each([
    ['PUT', (): string => `/api/admin/claude-accounts/${oauth.id}`, { clients: 'everyone' }],
    ['POST', (): string => '/api/admin/claude-accounts', { type: 'console', name: 'bad', apiUrl: 'https://api.anthropic.com', apiKey: 'k', clients: 'sdk' }],
  ] as const)('%s with an unknown clients value → 400 with a field error', async (method, path, body) => {
    const res = await server.admin<{ data: { fields: { field: string, message: string }[] } }>(method, path(), body)
    expect(res.status).toBe(400)
    expect(res.body.data.fields).toEqual([{ field: 'clients', message: expect.stringMatching(/claude-code.*any/) }])
  })

  it('an account stored before the setting existed reads as its type\'s default', async () => {
    await server.redis.hdel(`claude_account:${oauth.id}`, 'clients')
    expect((await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${oauth.id}`)).body.clients).toBe('claude-code')
  })
})
