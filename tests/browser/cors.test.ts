import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { TestServer } from '../helpers/server'
import { launch } from './harness'

/** A page server on its own port: another origin than the relay's. */
async function pageServer(): Promise<{ server: Server, origin: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>client</title>'))
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

// A browser app on another origin calls the relay as the Anthropic SDK does from a browser
// (x-api-key, anthropic-version, anthropic-dangerous-direct-browser-access): Chromium's own CORS
// check is what lets the listed origin read the answer and stops the other one before it sends.
describe('CORS in Chromium', () => {
  const upstream = new FakeAnthropic()
  let allowed: Awaited<ReturnType<typeof pageServer>>
  let refused: Awaited<ReturnType<typeof pageServer>>
  let relay: TestServer
  let browser: Browser
  let apiKey = ''
  beforeAll(async () => {
    [allowed, refused] = await Promise.all([pageServer(), pageServer(), upstream.start()])
    relay = await new TestServer({ CORS_ORIGINS: allowed.origin }).start()
    await relay.createConsoleAccount(upstream.url)
    apiKey = (await relay.createKey()).apiKey
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
    await relay?.stop()
    await upstream.stop()
    allowed?.server.close()
    refused?.server.close()
  })

  /** Open a page on `origin` and POST /api/v1/messages to the relay from it; what the page saw. */
  async function callFrom(origin: string) {
    const page = await browser.newPage()
    await page.goto(origin)
    const result = await page.evaluate(async ({ url, key }) => {
      try {
        const res = await fetch(`${url}/api/v1/messages`, {
          method: 'POST',
          headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true', 'content-type': 'application/json', 'x-stainless-os': 'Unknown' },
          body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
        })
        return { status: res.status, type: (await res.json() as { type?: string }).type, requestId: res.headers.get('x-request-id') }
      }
      catch (err) {
        return { error: (err as Error).name }
      }
    }, { url: relay.url, key: apiKey })
    await page.close()
    return result
  }

  /** Open a page on `origin` and POST an OpenAI chat completion to the relay from it, as a browser chat app does. */
  async function chatFrom(origin: string) {
    const page = await browser.newPage()
    await page.goto(origin)
    const result = await page.evaluate(async ({ url, key }) => {
      try {
        const res = await fetch(`${url}/openai/v1/chat/completions`, {
          method: 'POST',
          headers: { 'authorization': `Bearer ${key}`, 'content-type': 'application/json', 'x-stainless-lang': 'js' },
          body: JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'hi' }] }),
        })
        return { status: res.status, object: (await res.json() as { object?: string }).object }
      }
      catch (err) {
        return { error: (err as Error).name }
      }
    }, { url: relay.url, key: apiKey })
    await page.close()
    return result
  }

  it('OpenAI chat completions: a listed origin gets the completion, another origin a TypeError', async () => {
    const before = upstream.requests.length
    expect(await chatFrom(allowed.origin)).toEqual({ status: 200, object: 'chat.completion' })
    expect(await chatFrom(refused.origin)).toEqual({ error: 'TypeError' })
    expect(upstream.requests.length).toBe(before + 1)
  })

  it('a page on a listed origin gets the answer, with the exposed request id', async () => {
    const before = upstream.requests.length
    const result = await callFrom(allowed.origin)
    expect(result).toMatchObject({ status: 200, type: 'message' })
    expect((result as { requestId: string | null }).requestId).toBeTruthy()
    expect(upstream.requests.length).toBe(before + 1)
  })

  it('a page on another origin gets a TypeError, and the request never reaches the upstream', async () => {
    const before = upstream.requests.length
    expect(await callFrom(refused.origin)).toEqual({ error: 'TypeError' })
    expect(upstream.requests.length).toBe(before)
  })
})
