import { readFileSync } from 'node:fs'
import { type IncomingHttpHeaders, request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawRequest } from '../helpers/client'
import { ADMIN, TestServer } from '../helpers/server'

/** Peak resident memory of a process (VmHWM), in bytes. */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (!kb) throw new Error(`no VmHWM for ${pid}`)
  return Number(kb[1]) * 1024
}

/**
 * POST `total` bytes of `fill` in 64 KB writes (declared length, or chunked), stopping as soon as
 * an answer arrives; the server may close the connection while we still send, which is the point.
 */
function sendBig(url: string, total: number, opts: { chunked?: boolean, headers?: Record<string, string> } = {}): Promise<{ status: number, headers: IncomingHttpHeaders, body: string, sent: number }> {
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = false
    const headers = { 'content-type': 'application/json', ...opts.headers, ...(opts.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(total) }) }
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sent }))
    })
    req.on('error', (err) => {
      if (!answered) reject(err)
    })
    const block = Buffer.alloc(64 * 1024, 0x20)
    const pump = () => {
      while (!answered && sent < total) {
        const n = Math.min(block.length, total - sent)
        sent += n
        if (!req.write(n === block.length ? block : block.subarray(0, n))) return void req.once('drain', pump)
      }
      if (!answered) req.end()
    }
    pump()
  })
}

const LOGIN = '/api/admin/auth/login'
const json = { 'content-type': 'application/json' }

async function loginToken(server: TestServer, headers: Record<string, string> = {}): Promise<{ token: string, setCookie: string }> {
  const res = await rawRequest(`${server.url}${LOGIN}`, { headers: { ...json, ...headers }, body: JSON.stringify(ADMIN) })
  expect(res.status, res.body).toBe(200)
  const setCookie = ([] as string[]).concat(res.headers['set-cookie'] ?? []).find(c => c.startsWith('crs_admin=')) ?? ''
  return { token: (JSON.parse(res.body) as { token: string }).token, setCookie }
}

describe('admin request bodies are bounded before they are buffered', () => {
  const server = new TestServer()
  beforeAll(async () => {
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
  })

  it('a 40 MB anonymous login body is refused with 413 without being read into memory', async () => {
    await loginToken(server) // warm up: the login path's code is loaded and has run once
    const before = peakRss(server.pid!)
    const res = await sendBig(`${server.url}${LOGIN}`, 40 * 1024 * 1024)
    const grown = peakRss(server.pid!) - before
    expect(grown, `peak RSS grew by ${Math.round(grown / 1024 / 1024)} MB`).toBeLessThan(30 * 1024 * 1024)
    expect(res.status).toBe(413)
    expect(res.headers.connection).toBe('close')
    expect((JSON.parse(res.body) as { message: string }).message).toMatch(/ADMIN_MAX_BODY_KB/)
  })

  it('a chunked body is refused with 413 as soon as it passes the limit', async () => {
    const before = peakRss(server.pid!)
    const res = await sendBig(`${server.url}${LOGIN}`, 40 * 1024 * 1024, { chunked: true })
    expect(res.status).toBe(413)
    // Answered long before the whole body went out (the limit is 1 MB).
    expect(res.sent).toBeLessThan(40 * 1024 * 1024)
    expect(peakRss(server.pid!) - before).toBeLessThan(30 * 1024 * 1024)
  })

  it('a chunked body under the limit reaches the handler, and a normal login still works', async () => {
    const padded = `${JSON.stringify(ADMIN)}${' '.repeat(900 * 1024)}`
    const res = await rawRequest(`${server.url}${LOGIN}`, { headers: json, body: padded, chunked: true })
    expect(res.status, res.body).toBe(200)
    expect((await loginToken(server)).token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
  })

  it('an authenticated admin route is bounded too (a 2 MB key description)', async () => {
    const { token } = await loginToken(server)
    const res = await rawRequest(`${server.url}/api/admin/api-keys`, {
      headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify({ name: 'big', description: 'x'.repeat(2 * 1024 * 1024) }),
    })
    expect(res.status).toBe(413)
  })
})
