import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { version } from '../../package.json'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { ADMIN, TestServer } from '../helpers/server'
import { launch, loginUI, openPage, snap } from './harness'

// Login, dashboard, settings and the key-holder stats page in headless Chromium against the built
// server. The tests run in order on one admin page (each step starts where the last one left off).
describe('web console: login, dashboard, settings, key stats', () => {
  const upstream = new FakeAnthropic()
  const server = new TestServer()
  let browser: Browser
  let page: Page
  let errors: string[]
  let apiKey: string
  let keyId: string

  const relay = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody() })
      expect(res.status).toBe(200)
      await res.arrayBuffer()
    }
  }
  const cardValue = async (p: Page, id: string) => Number((await p.getByTestId(id).locator('[data-role=value]').innerText()).replace(/[^\d.]/g, ''))
  const isDark = (p: Page) => p.evaluate(() => document.documentElement.classList.contains('dark'))

  beforeAll(async () => {
    await Promise.all([upstream.start(), server.start()])
    await server.createConsoleAccount(upstream.url)
    ;({ apiKey, id: keyId } = await server.createKey({ name: 'browser-key', dailyCostLimit: 5, concurrencyLimit: 2 }))
    browser = await launch();
    ({ page, errors } = await openPage(browser, server, { locale: 'en-US', colorScheme: 'light' }))
    // Timers run as usual, but the auto-refresh test can jump ahead instead of waiting 10 s.
    await page.clock.install()
  })
  afterAll(async () => {
    await browser?.close()
    await server.stop()
    await upstream.stop()
  })

  it('sends an unauthenticated visitor of /web to the login page', async () => {
    await page.goto('/web')
    await page.waitForURL(u => u.pathname === '/web/login' && u.searchParams.get('redirect') === '/web')
    await expect(page.getByTestId('login-submit').isVisible()).resolves.toBe(true)
    await snap(page, 'login')
  })

  it('shows a wrong password inline and stays on the login page', async () => {
    await page.getByTestId('username').fill(ADMIN.username)
    await page.getByTestId('password').fill('not-the-password')
    await page.getByTestId('password').press('Enter') // the form submits from the keyboard
    await expect(page.getByTestId('login-error').innerText()).resolves.toContain('Invalid username or password')
    expect(new URL(page.url()).pathname).toBe('/web/login')
  })

  it('logs in to the dashboard, whose numbers and charts follow relay traffic (auto-refresh)', async () => {
    await loginUI(page)
    expect(new URL(page.url()).pathname).toBe('/web')
    await page.getByTestId('auto-refresh').check() // the 10 s clock starts now
    await page.getByTestId('card-requests-today').locator('[data-role=value]').waitFor()
    const before = await cardValue(page, 'card-requests-today')
    await relay(3)
    await page.waitForTimeout(300)
    expect(await cardValue(page, 'card-requests-today')).toBe(before) // no reload, no click yet
    await page.clock.fastForward(10_000)
    await expect.poll(() => cardValue(page, 'card-requests-today'), { timeout: 5_000, interval: 100 }).toBe(before + 3)
    expect(await cardValue(page, 'card-keys')).toBe(1)
    expect(await cardValue(page, 'card-accounts')).toBe(1)
    await page.getByTestId('chart-trend').locator('canvas').waitFor()
    await page.getByTestId('chart-models').locator('canvas').waitFor()
    await page.getByTestId('chart-keys').locator('canvas').waitFor()
    await page.getByTestId('metric-tokens').click()
    await page.getByTestId('chart-trend').locator('canvas').waitFor()
    await page.getByTestId('metric-requests').click()
    await page.waitForTimeout(400) // chart animations settle before the picture
    await snap(page, 'dashboard-light')
  })

  it('shows requests lost to a crash only when there are any, with the newest', async () => {
    expect(await page.getByTestId('card-lost').count()).toBe(0)
    // As the reaper leaves them when an instance dies mid-request (faults-lost.test.ts does it for real).
    const detectedAt = Date.now()
    await server.redis.pipeline()
      .hset('usage:lost', 'req-lost-1', JSON.stringify({ keyId, accountId: '', model: 'claude-sonnet-4-5', startedAt: detectedAt - 20_000, protocol: 'anthropic', detectedAt }))
      .zadd('usage:lost:at', detectedAt, 'req-lost-1')
      .exec()
    await page.getByTestId('refresh').click()
    await page.getByTestId('card-lost').waitFor()
    expect(await cardValue(page, 'card-lost')).toBe(1)
    const row = page.getByTestId('card-lost').locator('[data-role=lost-entry]')
    expect(await row.count()).toBe(1)
    expect(await row.innerText()).toMatch(/browser-key\s+claude-sonnet-4-5/)
    await snap(page, 'dashboard-lost')
    await server.redis.pipeline().del('usage:lost').del('usage:lost:at').exec()
    await page.getByTestId('refresh').click()
    await expect.poll(() => page.getByTestId('card-lost').count()).toBe(0)
  })

  it('keeps dark mode across a reload', async () => {
    for (let i = 0; i < 3 && !await isDark(page); i++) await page.getByTestId('theme').click()
    expect(await isDark(page)).toBe(true)
    await page.reload()
    await page.getByTestId('card-requests-today').locator('[data-role=value]').waitFor()
    expect(await isDark(page)).toBe(true)
    await page.getByTestId('chart-trend').locator('canvas').waitFor()
    await page.waitForTimeout(400)
    await snap(page, 'dashboard-dark')
    for (let i = 0; i < 3 && await isDark(page); i++) await page.getByTestId('theme').click()
    expect(await isDark(page)).toBe(false)
  })

  it('switches to Chinese and keeps it across a reload', async () => {
    await page.getByTestId('locale').selectOption('zh-CN')
    await expect(page.locator('header nav').innerText()).resolves.toContain('仪表盘')
    await page.reload()
    await expect(page.locator('header nav').innerText()).resolves.toContain('设置')
    await expect(page.locator('h1').innerText()).resolves.toBe('仪表盘')
    await page.getByTestId('locale').selectOption('en')
    await expect(page.locator('h1').innerText()).resolves.toBe('Dashboard')
  })

  it('fits a 375 px phone without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 800 })
    await page.reload()
    await page.getByTestId('chart-trend').locator('canvas').waitFor()
    await page.waitForTimeout(400)
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    expect(width).toBeLessThanOrEqual(376)
    await expect(page.getByTestId('card-requests-today').isVisible()).resolves.toBe(true)
    await snap(page, 'dashboard-phone')
    await page.setViewportSize({ width: 1280, height: 900 })
  })

  it('shows the version on the settings page and changes the password (and back)', async () => {
    await page.goto('/web/settings')
    await expect(page.getByTestId('system-version').innerText()).resolves.toContain(version)
    await page.getByTestId('pricing-table').waitFor()
    await page.getByTestId('pricing-search').fill('sonnet-4-5')
    await expect(page.getByTestId('pricing-table').innerText()).resolves.toContain('claude-sonnet-4-5')
    await snap(page, 'settings')

    const change = async (current: string, next: string) => {
      await page.getByTestId('current-password').fill(current)
      await page.getByTestId('new-password').fill(next)
      await page.getByTestId('confirm-password').fill(next)
      await page.getByTestId('password-submit').click()
    }
    await change('wrong-current-password', 'another-password-1')
    await expect(page.getByTestId('password-error').innerText()).resolves.toContain('current password is wrong')
    // The form empties itself only after the server said yes.
    const saved = async () => {
      await expect.poll(() => page.getByTestId('current-password').inputValue(), { timeout: 10_000 }).toBe('')
      await expect(page.getByTestId('password-success').isVisible()).resolves.toBe(true)
    }
    await change(ADMIN.password, 'another-password-1')
    await saved()
    // Changing back checks the new password as the current one: proof the first change took.
    await change('another-password-1', ADMIN.password)
    await saved()
    const res = await fetch(`${server.url}/api/admin/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) })
    expect(res.status).toBe(200) // and the original password works again
  })

  it('shows a key holder their usage without an admin session, and the server\'s error for a bad key', async () => {
    const { page: p } = await openPage(browser, server, { locale: 'en-US', colorScheme: 'light' })
    await p.goto('/web/stats')
    expect(new URL(p.url()).pathname).toBe('/web/stats') // public: no redirect to the login page
    await p.getByTestId('stats-key').fill('cr_not-a-real-key')
    await p.getByTestId('stats-submit').click()
    await expect(p.getByTestId('stats-error').innerText()).resolves.toContain('Invalid API key')

    await p.getByTestId('stats-key').fill(apiKey)
    await p.getByTestId('stats-key').press('Enter')
    await p.getByTestId('stats-result').waitFor()
    await expect(p.getByTestId('stats-key-name').innerText()).resolves.toBe('browser-key')
    await expect(p.getByTestId('stats-today-requests').innerText()).resolves.toBe('3')
    await expect(p.getByTestId('limit-dailyCost').isVisible()).resolves.toBe(true)
    await expect(p.getByTestId('stats-models').innerText()).resolves.toContain('claude-sonnet-4-5')
    expect(await p.getByTestId('stats-error').count()).toBe(0)
    // The key is in no URL, storage or cookie.
    expect(p.url()).not.toContain(apiKey)
    const stored = await p.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie)
    expect(stored).not.toContain(apiKey)
    expect(JSON.stringify(await p.context().cookies())).not.toContain(apiKey)
    await snap(p, 'stats-light')
    for (let i = 0; i < 3 && !await isDark(p); i++) await p.getByTestId('theme').click()
    await snap(p, 'stats-dark')
    await p.setViewportSize({ width: 375, height: 800 })
    expect(await p.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(376)
    await snap(p, 'stats-phone')

    await p.getByTestId('stats-clear').click()
    await expect(p.getByTestId('stats-key').inputValue()).resolves.toBe('')
    expect(await p.getByTestId('stats-result').count()).toBe(0)
    await p.context().close()
  })

  it('logs out back to the login page, and /web asks to log in again', async () => {
    await page.goto('/web')
    await page.getByTestId('logout').click()
    await page.waitForURL(u => u.pathname === '/web/login')
    await page.goto('/web/settings')
    await page.waitForURL(u => u.pathname === '/web/login' && u.searchParams.get('redirect') === '/web/settings')
    // Only expected 4xx answers (login check, wrong passwords, bad key) reached the console.
    expect(errors.filter(e => !/status of 4\d\d/.test(e))).toEqual([])
  })
})
