import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TestServer } from '../helpers/server'
import { launch, loginUI, openPage } from './harness'

// The console under its Content-Security-Policy in Chromium: the hashed inline scripts run, an
// injected one does not, and nothing the console itself does is refused.
describe('web console under its Content-Security-Policy', () => {
  const server = new TestServer()
  let browser: Browser
  beforeAll(async () => {
    await server.start()
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await server.stop()
  })

  it('the theme script runs (hash allowed), an injected inline script does not, and login works without violations', async () => {
    const { page, errors } = await openPage(browser, server, { locale: 'en-US', colorScheme: 'light' })
    const violations: string[] = []
    await page.exposeFunction('reportViolation', (v: string) => violations.push(v))
    await page.addInitScript(() => {
      localStorage.setItem('crs-theme', 'dark')
      document.addEventListener('securitypolicyviolation', e => (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`))
    })
    await loginUI(page)
    // Set before the first paint by the inline head script: it ran under the policy.
    expect(await page.evaluate(() => document.documentElement.classList.contains('dark'))).toBe(true)
    expect(violations).toEqual([])

    const injected = await page.evaluate(() => {
      const s = document.createElement('script')
      s.textContent = 'window.__injected = 1'
      document.head.appendChild(s)
      return (window as unknown as { __injected?: number }).__injected ?? null
    })
    expect(injected).toBeNull()
    await expect.poll(() => violations.some(v => v.startsWith('script-src'))).toBe(true)
    expect(errors.filter(e => !/Content Security Policy/i.test(e))).toEqual([])
    await page.context().close()
  })
})
