import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody } from '../helpers/client'
import { TestServer } from '../helpers/server'
import { launch, openPage, snap } from './harness'

// The live log view: lines arrive as requests are relayed; search, level filter and pause work.
describe('web console: logs', () => {
  const upstream = new FakeAnthropic()
  let server: TestServer
  let browser: Browser
  let apiKey = ''

  beforeAll(async () => {
    await upstream.start()
    server = await new TestServer({ LOG_LEVEL: 'info' }).start()
    await server.createConsoleAccount(upstream.url)
    apiKey = (await server.createKey({ name: 'logs-ui' })).apiKey
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await upstream.stop()
  })

  const relay = async () => {
    const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': apiKey, 'content-type': 'application/json' }, body: messageBody() })
    await res.text()
    return res.headers.get('x-request-id')!
  }

  it('tails new lines live, filters by text and level, and holds lines while paused', async () => {
    const { page, errors } = await openPage(browser, server)
    await page.context().addCookies([{ name: 'crs_admin', value: await server.adminToken(), url: server.url }])
    const earlier = await relay()
    await page.goto('/web/logs')
    // The last lines come on open, then live ones.
    await page.getByTestId('log-line').filter({ hasText: earlier }).waitFor()
    await page.getByTestId('logs-status').filter({ hasText: /live/i }).waitFor()
    const live = await relay()
    await page.getByTestId('log-line').filter({ hasText: live }).waitFor()
    for (const secret of [apiKey]) expect(await page.content()).not.toContain(secret)

    await page.getByTestId('logs-search').fill(live)
    await expect.poll(() => page.getByTestId('log-line').count()).toBe(1)
    await page.getByTestId('logs-search').fill('')

    await page.getByTestId('logs-pause').click()
    const held = await relay()
    await page.getByText(/1 new lines held/).waitFor()
    expect(await page.getByTestId('log-line').filter({ hasText: held }).count()).toBe(0)
    await page.getByTestId('logs-pause').click()
    await page.getByTestId('log-line').filter({ hasText: held }).waitFor()

    await page.getByTestId('logs-level').selectOption('error')
    await page.getByTestId('logs-status').filter({ hasText: /live/i }).waitFor()
    await relay()
    await page.waitForTimeout(300)
    expect(await page.getByTestId('log-line').count()).toBe(0)
    await snap(page, 'logs-light')
    expect(errors).toEqual([])
  })
})
