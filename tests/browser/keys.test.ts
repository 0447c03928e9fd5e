import type { Browser, Locator, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'
import { launch, loginUI, openPage, snap } from './harness'

interface KeyView { id: string, name: string, tags: string[], isActive: boolean, rateLimitWindow: number, rateLimitRequests: number, allowedModels: string[] }

// The API-keys screen in headless Chromium against the built server. The steps run in order on
// one admin page: each starts where the last one left off (the key created first is used on).
describe('web console: API keys', () => {
  const upstream = new FakeAnthropic()
  // Sticky sessions on (test servers turn them off): the detail page lists the key's session.
  const server = new TestServer({ STICKY_SESSION_TTL_SECONDS: '3600' })
  let browser: Browser
  let page: Page
  let errors: string[]
  let apiKey = ''

  const NAME = 'ui-team-key'
  const relay = (key: string) => fetch(`${server.url}/api/v1/messages`, {
    method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: messageBody(),
  })
  const row = (name: string): Locator => page.getByTestId('key-row').filter({ has: page.getByTestId('key-name').getByText(name, { exact: true }) })
  const keysByName = async (name: string) => (await server.admin<{ items: KeyView[] }>('GET', `/api/admin/api-keys?q=${encodeURIComponent(name)}`)).body.items.filter(k => k.name === name)
  const noPageOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth && document.body.scrollWidth <= window.innerWidth)

  beforeAll(async () => {
    await Promise.all([upstream.start(), server.start()])
    await server.createConsoleAccount(upstream.url)
    browser = await launch();
    ({ page, errors } = await openPage(browser, server, { locale: 'en-US', colorScheme: 'light', permissions: ['clipboard-read', 'clipboard-write'] }))
    await loginUI(page)
  })
  afterAll(async () => {
    await browser?.close()
    await server.stop()
    await upstream.stop()
  })

  it('creates a key with name, tags and a request limit; the key is shown once, with a copy button', async () => {
    await page.goto('/web/keys')
    await page.getByTestId('keys-empty').waitFor()
    await page.getByTestId('keys-create').click()
    await page.getByTestId('field-name').fill(NAME)
    await page.getByTestId('field-tags').fill('team-ui, e2e')
    await page.getByTestId('field-allowedModels').fill('claude-sonnet-*')
    await page.getByTestId('field-rateLimitWindow').fill('60')
    await page.getByTestId('field-rateLimitRequests').fill('5')
    expect(await page.getByTestId('window-missing').count()).toBe(0)
    await page.getByTestId('form-save').click()

    apiKey = (await page.getByTestId('new-key').innerText()).trim()
    expect(apiKey).toMatch(/^cr_\w{20,}/)
    await page.getByTestId('new-key-copy').click()
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(apiKey)
    await snap(page, 'keys-new-key')
    await page.getByTestId('new-key-close').click()
    await page.getByTestId('new-key-dialog').waitFor({ state: 'detached' })
    expect(await page.content()).not.toContain(apiKey)

    await row(NAME).waitFor()
    await expect(row(NAME).getByTestId('key-tags').innerText()).resolves.toMatch(/team-ui\s+e2e/)
    const [saved] = await keysByName(NAME)
    expect(saved).toMatchObject({ tags: ['team-ui', 'e2e'], rateLimitWindow: 60, rateLimitRequests: 5, allowedModels: ['claude-sonnet-*'], isActive: true })
  })

  it('the key works on the relay, and after a request its row shows the window use with a countdown', async () => {
    const res = await relay(apiKey)
    expect(res.status).toBe(200)
    await res.arrayBuffer()
    const bar = row(NAME).getByTestId('limit-windowRequests')
    await expect.poll(async () => {
      await page.getByTestId('keys-refresh').click()
      return bar.getByTestId('limit-text').innerText()
    }, { timeout: 5000 }).toBe('1 / 5')
    await expect(bar.getByRole('progressbar').getAttribute('aria-valuenow')).resolves.toBe('20')
    await expect(bar.getByTestId('limit-reset').innerText()).resolves.toMatch(/^resets in (1:00:00|59:\d\d)$/)
    await expect(row(NAME).getByTestId('key-usage').innerText()).resolves.toMatch(/^1 request\n/)
    await expect(row(NAME).getByTestId('key-last-used').innerText()).resolves.not.toBe('Never')
    await expect(row(NAME).getByTestId('key-status').getAttribute('data-status')).resolves.toBe('active')
  })

  it('search filters by name or tag (debounced, kept in the URL)', async () => {
    await server.createKey({ name: 'backend-service', tags: ['backend'] })
    await page.reload()
    await expect.poll(() => page.getByTestId('key-row').count()).toBe(2)
    const search = page.getByTestId('keys-search')
    await search.fill('ui-team')
    await expect.poll(() => page.getByTestId('key-name').allInnerTexts()).toEqual([NAME])
    await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe('ui-team')
    await search.fill('backend')
    await expect.poll(() => page.getByTestId('key-name').allInnerTexts()).toEqual(['backend-service'])
    await search.fill('no-such-key')
    await page.getByTestId('keys-empty').waitFor()
    await search.fill('')
    await expect.poll(() => page.getByTestId('key-row').count()).toBe(2)
  })

  it('disable: the row says disabled and the relay refuses the key with 401; enable restores it', async () => {
    await row(NAME).getByTestId('key-toggle').click()
    await expect.poll(() => row(NAME).getByTestId('key-status').getAttribute('data-status')).toBe('disabled')
    const refused = await relay(apiKey)
    expect(refused.status).toBe(401)
    await refused.arrayBuffer()
    await row(NAME).getByTestId('key-toggle').click()
    await expect.poll(() => row(NAME).getByTestId('key-status').getAttribute('data-status')).toBe('active')
  })

  it('edits a limit; the row follows', async () => {
    await row(NAME).getByTestId('key-edit').click()
    const field = page.getByTestId('field-rateLimitRequests')
    await expect(field.inputValue()).resolves.toBe('5')
    await expect(page.getByTestId('field-tags').inputValue()).resolves.toBe('team-ui, e2e')
    // The dedicated-account picker offers the server's Claude accounts.
    await expect.poll(() => page.getByTestId('field-claudeAccountId').locator('option').allInnerTexts()).toContain('console')
    await field.fill('10')
    await field.press('Enter') // the form submits from the keyboard
    await page.getByTestId('key-form').waitFor({ state: 'detached' })
    await expect.poll(() => row(NAME).getByTestId('limit-windowRequests').getByTestId('limit-text').innerText()).toBe('1 / 10')
    expect((await keysByName(NAME))[0]!.rateLimitRequests).toBe(10)
  })

  it('shows the server\'s validation error at the field (a request limit without a window)', async () => {
    await page.getByTestId('keys-create').click()
    await page.getByTestId('field-name').fill('invalid-key')
    await page.getByTestId('field-rateLimitRequests').fill('5')
    await expect(page.getByTestId('window-missing').isVisible()).resolves.toBe(true) // a hint, not a block: the server decides
    await page.getByTestId('form-save').click()
    const error = page.getByTestId('error-rateLimitWindow')
    await expect(error.innerText()).resolves.toMatch(/required when a window limit is set/)
    await expect(page.getByTestId('form-error').isVisible()).resolves.toBe(true)
    await expect(page.getByTestId('field-rateLimitWindow').getAttribute('aria-invalid')).resolves.toBe('true')
    // The invalid field gets the focus, so the keyboard user lands on it.
    await expect(page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).resolves.toBe('field-rateLimitWindow')
    await snap(page, 'keys-form-error')
    await page.keyboard.press('Escape')
    await page.getByTestId('key-form').waitFor({ state: 'detached' })
    expect(await keysByName('invalid-key')).toEqual([])
  })

  it('the detail page shows the request by model, by day, in recent requests, and the live limits', async () => {
    await snap(page, 'keys-light')
    await row(NAME).getByTestId('key-detail').click()
    await page.waitForURL(u => /^\/web\/keys\/[0-9a-f-]{36}$/.test(u.pathname))
    const model = page.getByTestId('model-row')
    await expect.poll(() => model.count()).toBe(1)
    await expect(model.locator('td').allInnerTexts()).resolves.toEqual([expect.stringMatching(/^claude-sonnet-4-5/), '1', '25', '17', '0', '0', expect.stringMatching(/^\$0\.\d+$/)])
    await expect(page.getByTestId('day-row').count()).resolves.toBe(7)
    const recent = page.getByTestId('recent-row')
    await expect(recent.count()).resolves.toBe(1)
    await expect(recent.innerText()).resolves.toMatch(/claude-sonnet-4-5[\s\S]*console[\s\S]*200/)
    await expect(page.getByTestId('key-limit-state').getByTestId('limit-windowRequests').getByTestId('limit-text').innerText()).resolves.toBe('1 / 10')
    await expect(page.getByTestId('key-window').innerText()).resolves.toMatch(/requests 1 · tokens 42/)
    // The prompt-cache ledger: the one request was a sticky session that neither wrote nor read.
    const cache = page.getByTestId('key-usage-cache')
    await expect(cache.getByTestId('key-cache-saved').innerText()).resolves.toBe('$0.00')
    await expect(cache.getByTestId('cache-session-row').locator('td').allInnerTexts()).resolves.toEqual([
      expect.stringMatching(/^\S{8}$/), expect.stringMatching(/^claude-sonnet-4-5/), '1', '0', '0', '0', '0%', '$0.00', expect.any(String),
    ])
    await snap(page, 'keys-detail-light')
  })

  it('renders in dark mode (screenshots of list, detail and form)', async () => {
    await page.evaluate(() => localStorage.setItem('crs-theme', 'dark'))
    await page.reload()
    await page.getByTestId('model-row').waitFor()
    expect(await page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true)
    await snap(page, 'keys-detail-dark')
    await page.goto('/web/keys')
    await row(NAME).getByTestId('limit-windowRequests').waitFor()
    await snap(page, 'keys-dark')
    await page.getByTestId('locale').selectOption('zh-CN')
    await expect(page.getByTestId('keys-create').innerText()).resolves.toContain('创建密钥')
    await expect(row(NAME).getByTestId('key-status').innerText()).resolves.toBe('启用')
    await snap(page, 'keys-dark-zh')
    await page.getByTestId('locale').selectOption('en')
    await row(NAME).getByTestId('key-edit').click()
    await page.getByTestId('field-name').waitFor()
    await snap(page, 'keys-form-dark')
    await page.getByTestId('form-cancel').click()
    await page.evaluate(() => localStorage.setItem('crs-theme', 'light'))
  })

  it('fits a 375 px phone: no page-level horizontal overflow on the list, the form and the detail', async () => {
    await page.setViewportSize({ width: 375, height: 800 })
    await page.reload()
    await row(NAME).getByTestId('limit-windowRequests').waitFor()
    expect(await noPageOverflow()).toBe(true)
    await snap(page, 'keys-phone')
    await page.getByTestId('keys-create').click()
    await page.getByTestId('field-name').waitFor()
    expect(await noPageOverflow()).toBe(true)
    await page.getByTestId('form-cancel').click()
    await row(NAME).getByTestId('key-detail').click()
    await page.getByTestId('model-row').waitFor()
    expect(await noPageOverflow()).toBe(true)
    await snap(page, 'keys-phone-detail')
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  it('deletes only after confirmation', async () => {
    await page.goto('/web/keys')
    await row(NAME).waitFor()
    await row(NAME).getByTestId('key-delete').click()
    await page.getByTestId('confirm-cancel').click()
    await page.getByTestId('confirm-dialog').waitFor({ state: 'detached' })
    expect(await row(NAME).count()).toBe(1)
    await row(NAME).getByTestId('key-delete').click()
    await expect(page.getByTestId('confirm-dialog').innerText()).resolves.toContain(NAME)
    await page.getByTestId('confirm-ok').click()
    await row(NAME).waitFor({ state: 'detached' })
    await expect.poll(() => page.getByTestId('key-row').count()).toBe(1)
    expect(await keysByName(NAME)).toEqual([])
    const gone = await relay(apiKey)
    expect(gone.status).toBe(401)
    await gone.arrayBuffer()
  })

  it('logged no errors in the browser (the deliberate 400 aside)', () => {
    expect(errors.filter(e => !/status of 400/.test(e))).toEqual([])
  })
})
