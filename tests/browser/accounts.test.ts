import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { FakeOAuthServer } from '../fixtures/oauth-server'
import { Socks5Proxy } from '../fixtures/proxies'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'
import { launch, loginUI, openPage, snap } from './harness'

// The Accounts screen in Chromium against the built server, a fake Anthropic API, a fake OAuth
// token endpoint and a SOCKS5 proxy: adding every kind, proxy test, actions, themes, phone width.

interface AccountView { id: string, name: string, type: string, clients?: string, isActive: boolean, priority: number, description: string, apiUrl?: string, proxy: string | null, status: { state: string } }

const AUTHORIZE_URL = 'https://auth.example.test/oauth/authorize'
const PROXY_USER = 'ui-user'
const PROXY_PASS = 'pr0xy-pass-4d1'

describe('accounts screen', () => {
  const upstream = new FakeAnthropic()
  const tokens = new FakeOAuthServer()
  const socks = new Socks5Proxy({ user: PROXY_USER, pass: PROXY_PASS })
  let server: TestServer
  let browser: Browser
  let page: Page
  let errors: string[]

  beforeAll(async () => {
    await Promise.all([upstream.start(), tokens.start(), socks.start()])
    server = await new TestServer({
      CLAUDE_API_URL: upstream.url, GEMINI_API_URL: upstream.url,
      CLAUDE_OAUTH_TOKEN_URL: tokens.url(), CLAUDE_OAUTH_AUTHORIZE_URL: AUTHORIZE_URL,
      OAUTH_REFRESH_INTERVAL_SECONDS: '0',
      // A cooldown must last long enough to be seen, then reset by hand.
      ACCOUNT_COOLDOWN_SECONDS: '300',
    }).start()
    browser = await launch()
    ;({ page, errors } = await openPage(browser, server))
    // Fail at the step that is stuck (with its locator), well before the test's own timeout.
    page.setDefaultTimeout(10_000)
    await loginUI(page)
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await Promise.all([upstream.stop(), tokens.stop(), socks.stop()])
  })

  const row = (name: string) => page.locator(`[data-testid="account-row"][data-name="${name}"]`)
  const stateOf = (name: string) => row(name).getByTestId('account-state').getAttribute('data-state')
  const accounts = async (platform: 'claude' | 'gemini') => (await server.admin<{ items: AccountView[] }>('GET', `/api/admin/${platform}-accounts`)).body.items
  // As Claude Code: the only client a subscription account serves by default.
  const relay = (apiKey: string, userAgent = 'claude-cli/2.0.0 (external, cli)') =>
    fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json', 'user-agent': userAgent }, body: messageBody() })

  async function openAdd() {
    await page.getByTestId('add-account').click()
    await page.getByTestId('add-dialog').waitFor()
  }

  it('adds a Claude Console account; a server validation error shows beside its field', async () => {
    await page.evaluate(() => localStorage.setItem('crs-theme', 'light'))
    await page.goto('/web/accounts')
    await page.getByTestId('accounts-empty').waitFor()
    await openAdd()
    await page.getByTestId('platform-claude').click()
    await page.getByTestId('kind-console').click()
    expect(await page.getByTestId('field-apiUrl').inputValue()).toBe('https://api.anthropic.com')
    await page.getByTestId('field-name').fill('console-ui')
    await page.getByTestId('field-apiUrl').fill('ftp://upstream.example')
    await page.getByTestId('field-apiKey').fill('sk-ant-api03-ui-test-key')
    await snap(page, 'accounts-add-dialog')
    await page.getByTestId('add-create').click()
    await expect.poll(() => page.getByTestId('error-apiUrl').textContent()).toMatch(/http\(s\) URL/)
    await page.getByTestId('field-apiUrl').fill(upstream.url)
    await page.getByTestId('add-create').click()
    await row('console-ui').waitFor()
    await page.getByTestId('add-dialog').waitFor({ state: 'hidden' })
    expect(await stateOf('console-ui')).toBe('active')
    expect(await row('console-ui').getByTestId('account-kind').textContent()).toContain('Claude Console')
    expect(await row('console-ui').getByTestId('token-expiry').textContent()).toContain('—')
    expect(await row('console-ui').getByTestId('account-clients').getAttribute('data-clients')).toBe('any')
    expect(await accounts('claude')).toEqual([expect.objectContaining({ name: 'console-ui', type: 'console', apiUrl: upstream.url, isActive: true })])
  })

  it('tests a proxy: connects through the SOCKS5 fixture; a refusal is shown without the password', async () => {
    await openAdd()
    await page.getByTestId('field-proxy-type').selectOption('socks5')
    await page.getByTestId('field-proxy-host').fill('127.0.0.1')
    await page.getByTestId('field-proxy-port').fill(String(socks.port))
    await page.getByTestId('field-proxy-username').fill(PROXY_USER)
    await page.getByTestId('field-proxy-password').fill(PROXY_PASS)
    await page.getByTestId('test-proxy').click()
    const result = page.getByTestId('proxy-test-result')
    await expect.poll(() => result.getAttribute('data-state')).toBe('ok')
    expect(await result.textContent()).toMatch(/\d+ ms/)
    expect(socks.connections.at(-1)).toMatchObject({ user: PROXY_USER, target: new URL(upstream.url).host })

    await page.getByTestId('field-proxy-password').fill('wrong-secret-93x')
    expect(await result.count()).toBe(0) // a result belongs to the fields it was measured with
    await page.getByTestId('test-proxy').click()
    await expect.poll(() => result.getAttribute('data-state')).toBe('fail')
    const text = await result.textContent()
    expect(text).toMatch(/auth/i)
    expect(text).not.toContain('wrong-secret-93x')
    // Escape closes the dialog (focus is inside it, on the test button).
    await page.keyboard.press('Escape')
    await page.getByTestId('add-dialog').waitFor({ state: 'hidden' })
  })

  it('adds a Claude OAuth account in two steps (authorization URL, pasted code) and relays through it', async () => {
    await openAdd()
    await page.getByTestId('kind-oauth').click()
    await page.getByTestId('method-authorize').click()
    await page.getByTestId('field-name').fill('max-ui')
    await page.getByTestId('add-next').click()
    await page.getByTestId('generate-url').click()
    const authUrl = page.getByTestId('auth-url')
    await authUrl.waitFor()
    const url = await authUrl.inputValue()
    expect(url.startsWith(`${AUTHORIZE_URL}?`)).toBe(true)
    expect(url).toMatch(/[?&]code_challenge=[\w-]{43}(&|$)/)
    expect(await page.getByTestId('open-auth-url').getAttribute('href')).toBe(url)
    expect(await page.getByTestId('open-auth-url').getAttribute('target')).toBe('_blank')
    await page.getByTestId('field-code').fill('test-code-123')
    await snap(page, 'accounts-add-oauth')
    await page.getByTestId('add-create').click()
    await row('max-ui').waitFor()
    expect(tokens.requests.at(-1)?.body).toMatchObject({ grant_type: 'authorization_code', code: 'test-code-123' })
    expect(await row('max-ui').getByTestId('account-kind').textContent()).toContain('Claude OAuth')
    // The fake's tokens last an hour.
    expect((await row('max-ui').getByTestId('token-expiry').textContent())?.trim()).toMatch(/^in (1h 00m|59m \d\ds)$/)
    expect(await row('max-ui').getByTestId('action-refresh').isVisible()).toBe(true)
    expect(await row('console-ui').getByTestId('action-refresh').count()).toBe(0)

    const id = await row('max-ui').getAttribute('data-id')
    const key = await server.createKey({ claudeAccountId: id })
    // A subscription's 5-hour window, as Anthropic reports it on every answer.
    upstream.behaviour.headers = {
      'anthropic-ratelimit-unified-5h-status': 'allowed_warning',
      'anthropic-ratelimit-unified-5h-reset': String(Math.floor(Date.now() / 1000) + 2 * 3600),
    }
    const res = await relay(key.apiKey)
    upstream.behaviour.headers = undefined
    expect(res.status).toBe(200)
    expect(upstream.last().headers.authorization).toMatch(/^Bearer /)
    expect(upstream.last().headers['x-api-key']).toBeUndefined()
    // Today's usage and the session window of the account show up.
    await page.getByTestId('reload-accounts').click()
    await expect.poll(() => row('max-ui').getByTestId('account-usage').textContent()).toMatch(/\b1 request\b/)
    expect(await row('max-ui').getByTestId('session-window').textContent()).toMatch(/near limit\s*resets in (2h 00m|1h 59m)/)
  })

  it('adds a Gemini API-key account (keyboard opens the dialog) and filters by platform', async () => {
    await page.getByTestId('add-account').focus()
    await page.keyboard.press('Enter')
    await page.getByTestId('add-dialog').waitFor()
    // Focus moved into the dialog.
    expect(await page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]'))).toBe(true)
    await page.getByTestId('platform-gemini').click()
    await page.getByTestId('kind-api-key').click()
    await page.getByTestId('field-name').fill('gemini-ui')
    await page.getByTestId('field-apiKey').fill('AIza-ui-test-key')
    // A proxy URL pasted into one field fills the separate fields.
    await page.getByTestId('field-proxy-url').fill(socks.url())
    await page.getByTestId('field-proxy-url').press('Enter')
    expect(await page.getByTestId('field-proxy-type').inputValue()).toBe('socks5')
    expect(await page.getByTestId('field-proxy-port').inputValue()).toBe(String(socks.port))
    expect(await page.getByTestId('field-proxy-password').inputValue()).toBe(PROXY_PASS)
    await page.getByTestId('add-create').click()
    await row('gemini-ui').waitFor()
    // The table names the proxy's host, never its credentials.
    const proxyCell = await row('gemini-ui').getByTestId('account-proxy').textContent()
    expect(proxyCell?.trim()).toBe(`127.0.0.1:${socks.port}`)
    expect(await row('gemini-ui').innerHTML()).not.toContain(PROXY_PASS)
    expect(await row('gemini-ui').getAttribute('data-platform')).toBe('gemini')
    expect(await row('gemini-ui').getByTestId('account-kind').textContent()).toContain('Gemini API key')
    expect(await accounts('gemini')).toEqual([expect.objectContaining({ name: 'gemini-ui', type: 'api-key', proxy: `socks5://${PROXY_USER}:***@127.0.0.1:${socks.port}` })])

    await page.getByTestId('filter-gemini').click()
    await expect.poll(() => page.getByTestId('account-row').count()).toBe(1)
    await page.getByTestId('filter-all').click()
    await expect.poll(() => page.getByTestId('account-row').count()).toBe(3)
  })

  it('disables and enables an account', async () => {
    const [acct] = await accounts('claude').then(a => a.filter(x => x.name === 'console-ui'))
    await row('console-ui').getByTestId('action-toggle').click()
    await expect.poll(() => row('console-ui').getAttribute('data-active')).toBe('false')
    expect(await row('console-ui').getByTestId('account-disabled').isVisible()).toBe(true)
    expect((await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${acct!.id}`)).body.isActive).toBe(false)
    await row('console-ui').getByTestId('action-toggle').click()
    await expect.poll(() => row('console-ui').getAttribute('data-active')).toBe('true')
    expect((await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${acct!.id}`)).body.isActive).toBe(true)
  })

  it('a subscription account serves Claude Code only until the admin sets it to any client, with a warning in the form and the table', async () => {
    const clients = row('max-ui').getByTestId('account-clients')
    expect(await clients.getAttribute('data-clients')).toBe('claude-code')
    expect(await clients.textContent()).toContain('Claude Code only')
    const key = await server.createKey({ claudeAccountId: await row('max-ui').getAttribute('data-id') })
    expect((await relay(key.apiKey, 'Anthropic/JS 0.60.0')).status).toBe(503)

    await row('max-ui').getByTestId('action-edit').click()
    await page.getByTestId('edit-dialog').waitFor()
    expect(await page.getByTestId('field-clients').inputValue()).toBe('claude-code')
    expect(await page.getByTestId('clients-warning').count()).toBe(0)
    await page.getByTestId('field-clients').selectOption('any')
    expect(await page.getByTestId('clients-warning').textContent()).toMatch(/refuses subscription tokens/)
    await page.getByTestId('edit-save').click()
    await page.getByTestId('edit-dialog').waitFor({ state: 'hidden' })
    await expect.poll(() => clients.getAttribute('data-clients')).toBe('any')
    expect(await clients.getAttribute('title')).toMatch(/refuses subscription tokens/)
    expect((await relay(key.apiKey, 'Anthropic/JS 0.60.0')).status).toBe(200)
  })

  it('edits description and priority, keeping the stored key', async () => {
    await row('console-ui').getByTestId('action-edit').click()
    await page.getByTestId('edit-dialog').waitFor()
    expect(await page.getByTestId('field-name').inputValue()).toBe('console-ui')
    await page.getByTestId('field-priority').fill('5')
    await page.getByTestId('field-description').fill('primary console key')
    await page.getByTestId('edit-save').click()
    await page.getByTestId('edit-dialog').waitFor({ state: 'hidden' })
    const [saved] = (await accounts('claude')).filter(a => a.name === 'console-ui')
    expect(saved).toMatchObject({ priority: 5, description: 'primary console key', apiUrl: upstream.url })
    await expect.poll(() => row('console-ui').textContent()).toContain('primary console key')
    // The key was kept: the account still relays.
    const key = await server.createKey({ claudeAccountId: saved!.id })
    expect((await relay(key.apiKey)).status).toBe(200)
    expect(upstream.last().headers['x-api-key']).toBe('sk-ant-api03-ui-test-key')
  })

  it('shows a cooldown with its cause and end after an upstream failure, and resets it', async () => {
    const [acct] = (await accounts('claude')).filter(a => a.name === 'console-ui')
    const key = await server.createKey({ claudeAccountId: acct!.id })
    upstream.behaviour.mode = 'error500'
    expect((await relay(key.apiKey)).status).not.toBe(200)
    upstream.reset()
    await page.getByTestId('reload-accounts').click()
    await expect.poll(() => stateOf('console-ui')).toBe('cooldown')
    expect(await row('console-ui').getByTestId('state-reason').textContent()).toContain('upstream 500')
    expect(await row('console-ui').getByTestId('state-ends').textContent()).toMatch(/ends in [45]m \d\ds/)
    await snap(page, 'accounts-light')

    await row('console-ui').getByTestId('action-reset').click()
    await expect.poll(() => stateOf('console-ui')).toBe('active')
    expect((await server.admin<AccountView>('GET', `/api/admin/claude-accounts/${acct!.id}`)).body.status.state).toBe('active')
    expect(await row('console-ui').getByTestId('action-reset').getAttribute('aria-disabled')).toBe('true')
  })

  it('renders in dark mode', async () => {
    await page.evaluate(() => localStorage.setItem('crs-theme', 'dark'))
    await page.reload()
    await row('console-ui').waitFor()
    expect(await page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true)
    await snap(page, 'accounts-dark')
    await openAdd()
    await page.getByTestId('field-proxy-type').selectOption('socks5')
    await snap(page, 'accounts-add-dialog-dark')
    await page.getByTestId('add-cancel').click()
    // Every string comes from the locale files: switch to Chinese and back.
    await page.getByTestId('locale').selectOption('zh-CN')
    await expect.poll(() => page.locator('h1').textContent()).toContain('账户')
    expect(await row('gemini-ui').getByTestId('account-kind').textContent()).toContain('Gemini API 密钥')
    await snap(page, 'accounts-dark-zh')
    await page.getByTestId('locale').selectOption('en')
    await page.evaluate(() => localStorage.setItem('crs-theme', 'light'))
  })

  it('imports Claude OAuth tokens from a pasted credentials file', async () => {
    await openAdd()
    await page.getByTestId('kind-oauth').click()
    await page.getByTestId('method-import').click()
    await page.getByTestId('field-name').fill('imported-ui')
    const expiresAt = Date.now() + 3 * 3_600_000
    await page.getByTestId('field-credentials').fill(JSON.stringify({ claudeAiOauth: { accessToken: 'sk-ant-oat01-ui', refreshToken: 'sk-ant-ort01-ui', expiresAt, scopes: ['user:inference'] } }))
    await page.getByTestId('read-credentials').click()
    expect(await page.getByTestId('field-refreshToken').inputValue()).toBe('sk-ant-ort01-ui')
    expect(await page.getByTestId('field-expiresAt').inputValue()).toBe(new Date(expiresAt).toISOString())
    await page.getByTestId('add-create').click()
    await row('imported-ui').waitFor()
    expect(await row('imported-ui').getByTestId('account-kind').textContent()).toContain('Claude OAuth')
    expect((await row('imported-ui').getByTestId('token-expiry').textContent())?.trim()).toMatch(/^in (3h 00m|2h 59m)$/)
  })

  it('shows a subscription\'s headroom (meters, reset countdowns, when it was seen) and the dashboard\'s pool headroom, in both languages', async () => {
    const [max] = (await accounts('claude')).filter(a => a.name === 'max-ui')
    const now = Date.now()
    const at = (ms: number) => new Date(now + ms).toISOString()
    // Resets a few seconds short of whole minutes: the page's clock ticks once a second, so it may lag this one.
    const win = (utilization: number, resetInMs: number) => ({ utilization, resetAt: at(resetInMs - 5000), status: null })
    // As the usage endpoint would have left it (docs/redis-layout.md); imported-ui never reported any.
    await server.redis.hset('account_headroom', `claude:${max!.id}`, JSON.stringify({
      fiveHour: win(0.42, 134 * 60_000), sevenDay: win(0.83, 3 * 86_400_000), sevenDayOpus: win(0.97, 3 * 86_400_000), sevenDaySonnet: null,
      status: 'allowed', resetAt: null, representativeClaim: 'five_hour', fallbackPercentage: null, seenAt: at(-3 * 60_000), source: 'usage-endpoint',
    }))
    // An admin no-op update makes the server reload its accounts (the dashboard reads that copy).
    expect((await server.admin('PUT', `/api/admin/claude-accounts/${max!.id}`, { priority: max!.priority })).status).toBe(200)
    await page.reload() // in the light theme again
    const meters = row('max-ui').getByTestId('headroom-meter')
    await expect.poll(() => meters.count()).toBe(3)
    const read = () => meters.evaluateAll(els => els.map(e => [e.getAttribute('aria-label'), e.getAttribute('aria-valuenow'), e.getAttribute('aria-valuemin'),
      e.getAttribute('aria-valuemax'), e.getAttribute('aria-valuetext'), e.closest('[data-level]')?.getAttribute('data-level')]))
    expect(await read()).toEqual([
      ['5-hour limit', '42', '0', '100', '42% used', 'ok'],
      ['7-day limit', '83', '0', '100', '83% used', 'warn'],
      ['7-day Opus limit', '97', '0', '100', '97% used', 'over'],
    ])
    const texts = (id: string) => row('max-ui').getByTestId(id).allTextContents().then(a => a.map(x => x.trim()))
    expect(await texts('headroom-reset')).toEqual(['resets in 2h 14m', 'resets in 3d 0h'])
    expect(await texts('headroom-seen')).toEqual(['seen 3 minutes ago'])
    expect(await row('max-ui').getByTestId('headroom-seen').getAttribute('title')).toMatch(/^From the OAuth usage endpoint, /)
    expect(await row('imported-ui').getByTestId('account-headroom').count()).toBe(0)
    expect(await row('console-ui').getByTestId('account-headroom').count()).toBe(0)
    await snap(page, 'headroom-accounts-light')

    // max-ui has 58 % of its window left, imported-ui (never reported) a whole one.
    await page.goto('/web')
    const card = page.getByTestId('card-pool-headroom')
    const value = card.locator('[data-role="value"]')
    await expect.poll(() => value.textContent().then(x => x?.trim())).toBe('1.6 of 2')
    expect(await value.getAttribute('data-left')).toBe('1.58')
    expect((await card.locator('[data-role="next-reset"]').textContent())?.trim()).toBe('next reset in 2h 14m')
    expect(await card.locator('[data-role="assumed"]').getAttribute('data-assumed')).toBe('1')
    await snap(page, 'headroom-dashboard-light')

    await page.evaluate(() => localStorage.setItem('crs-theme', 'dark'))
    await page.reload()
    await page.getByTestId('locale').selectOption('zh-CN')
    await expect.poll(() => value.textContent().then(x => x?.trim())).toBe('1.6 / 2')
    expect((await card.locator('[data-role="next-reset"]').textContent())?.trim()).toBe('最早 2小时 14分 后重置')
    await snap(page, 'headroom-dashboard-dark-zh')
    await page.goto('/web/accounts')
    await expect.poll(() => meters.count()).toBe(3)
    expect((await read())[0]).toEqual(['5 小时额度', '42', '0', '100', '已用 42%', 'ok'])
    expect(await texts('headroom-reset')).toEqual(['2小时 14分 后重置', '3天 0小时 后重置'])
    expect(await texts('headroom-seen')).toEqual(['3分钟前更新'])
    await snap(page, 'headroom-accounts-dark-zh')
    await page.getByTestId('locale').selectOption('en')
    await page.evaluate(() => localStorage.setItem('crs-theme', 'light'))
  })

  it('deletes an account only after confirmation', async () => {
    await row('max-ui').getByTestId('action-delete').click()
    const confirm = page.getByTestId('confirm-dialog')
    await confirm.waitFor()
    expect(await confirm.textContent()).toContain('max-ui')
    await page.getByTestId('confirm-cancel').click()
    await confirm.waitFor({ state: 'hidden' })
    expect(await row('max-ui').count()).toBe(1)
    await row('max-ui').getByTestId('action-delete').click()
    await page.getByTestId('confirm-ok').click()
    await row('max-ui').waitFor({ state: 'detached' })
    expect((await accounts('claude')).map(a => a.name).sort()).toEqual(['console-ui', 'imported-ui'])
  })

  it('fits a phone: cards, no page-level horizontal overflow, dialog included', async () => {
    const phone = await openPage(browser, server, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true })
    try {
      await loginUI(phone.page)
      await phone.page.goto('/web/accounts')
      await phone.page.locator('[data-testid="account-row"][data-name="gemini-ui"]').waitFor()
      const overflow = () => phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(await overflow()).toBeLessThanOrEqual(0)
      const box = await phone.page.locator('[data-testid="account-row"][data-name="console-ui"] [data-testid="action-delete"]').boundingBox()
      expect(box!.x + box!.width).toBeLessThanOrEqual(375)
      await snap(phone.page, 'accounts-phone')
      await phone.page.getByTestId('add-account').click()
      await phone.page.getByTestId('add-dialog').waitFor()
      await phone.page.getByTestId('field-proxy-type').selectOption('http')
      expect(await overflow()).toBeLessThanOrEqual(0)
      await snap(phone.page, 'accounts-phone-add')
      expect(phone.errors).toEqual([])
    }
    finally {
      await phone.page.context().close()
    }
    // The create with a bad URL above answered 400 on purpose; nothing else went wrong.
    expect(errors.filter(e => !/status of 400/.test(e))).toEqual([])
  })
})
