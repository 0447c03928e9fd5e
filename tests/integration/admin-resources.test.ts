import { createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { keysContaining } from '../helpers/redis-dump'
import { TestServer } from '../helpers/server'

// Known secrets, so the tests can recompute the key HMAC and decrypt what the server stored.
const API_KEY_SALT = randomBytes(16).toString('hex')
const ENCRYPTION_KEY = randomBytes(16).toString('hex')
const MISSING_ID = '3f1c2a8e-8d3b-4a57-9b1e-2f4f5f3c6d7e'

type Json = Record<string, unknown>

/** Decrypt the documented at-rest format: "v1." + base64url(iv[12] | tag[16] | ciphertext), AES-256-GCM. */
function decrypt(sealed: string): string {
  expect(sealed.startsWith('v1.')).toBe(true)
  const raw = Buffer.from(sealed.slice(3), 'base64url')
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(ENCRYPTION_KEY), raw.subarray(0, 12))
  decipher.setAuthTag(raw.subarray(12, 28))
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
}

describe('admin resources', () => {
  const server = new TestServer({ API_KEY_SALT, ENCRYPTION_KEY })
  beforeAll(async () => {
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
  })

  /** Admin call that also returns the raw JSON text, for "appears nowhere" checks. */
  async function call(method: string, path: string, body?: unknown): Promise<{ status: number, body: Json, text: string }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { 'authorization': `Bearer ${await server.adminToken()}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: JSON.parse(text) as Json, text }
  }

  /** GET/PUT/DELETE on `${base}/:id`: a non-UUID id → 400 naming id; an unknown UUID → 404. */
  function itRejectsBadIds(base: string): void {
    it.each(['GET', 'PUT', 'DELETE'])('%s with an id that is not a UUID → 400; an unknown UUID → 404', async (method) => {
      const body = method === 'PUT' ? { name: 'x' } : undefined
      const bad = await call(method, `${base}/not-a-uuid`, body)
      expect(bad.status).toBe(400)
      expect(bad.body.message).toMatch(/id/)
      expect((await call(method, `${base}/${MISSING_ID}`, body)).status).toBe(404)
    })
  }

  /** A client call with the key (the relay's own key check), to see admin changes take effect. */
  async function keyInfoStatus(apiKey: string): Promise<number> {
    const res = await fetch(`${server.url}/api/v1/key-info`, { headers: { 'x-api-key': apiKey } })
    await res.arrayBuffer()
    return res.status
  }

  describe('API keys', () => {
    const base = '/api/admin/api-keys'

    it('create returns 201 and the plaintext cr_ key, once', async () => {
      const { status, body } = await call('POST', base, { name: 'ci key', description: 'for CI', expiresAt: '2099-01-01T00:00:00Z' })
      expect(status).toBe(201)
      expect(body.apiKey).toMatch(/^cr_[0-9a-f]{64}$/)
      expect(body).toMatchObject({ name: 'ci key', description: 'for CI', isActive: true })
      expect(Date.parse(body.expiresAt as string)).toBe(Date.parse('2099-01-01T00:00:00Z'))
      expect(body.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(body).not.toHaveProperty('hash')
      // Two creates never share a key.
      const again = await call('POST', base, { name: 'ci key' })
      expect(again.body.apiKey).not.toBe(body.apiKey)
      expect(await keyInfoStatus(body.apiKey as string)).toBe(200)
    })

    it('GET by id and the list never show the key or its hash', async () => {
      const created = (await call('POST', base, { name: 'hidden' })).body
      const apiKey = created.apiKey as string
      const hmac = createHmac('sha256', API_KEY_SALT).update(apiKey).digest('hex')

      const one = await call('GET', `${base}/${created.id}`)
      expect(one.status).toBe(200)
      expect(one.body).toMatchObject({ id: created.id, name: 'hidden', isActive: true })
      expect(one.body).not.toHaveProperty('apiKey')
      expect(one.body).not.toHaveProperty('hash')

      const list = await call('GET', base)
      expect(list.status).toBe(200)
      const items = list.body.items as Json[]
      expect(items.map(i => i.id)).toContain(created.id)
      expect(list.body.total).toBe(items.length)
      for (const item of items) {
        expect(item).not.toHaveProperty('apiKey')
        expect(item).not.toHaveProperty('hash')
      }
      for (const text of [one.text, list.text]) {
        expect(text).not.toContain(apiKey.slice(3))
        expect(text).not.toContain(hmac)
      }
    })

    it('Redis holds only the HMAC of the key, never the key', async () => {
      const { id, apiKey } = await server.createKey({ name: 'stored' })
      const hmac = createHmac('sha256', API_KEY_SALT).update(apiKey).digest('hex')
      expect(await server.redis.get(`api_key_hash:${hmac}`)).toBe(id)
      expect((await server.redis.hgetall(`api_key:${id}`)).hash).toBe(hmac)
      // Not the key, nor its 64 hex digits, under any key name or value of this server's prefix.
      expect(await keysContaining(server.redis, server.prefix, apiKey.slice(3))).toEqual([])
    })

    it('PUT updates name, description, isActive and expiresAt', async () => {
      const created = (await call('POST', base, { name: 'before', description: 'old' })).body
      const apiKey = created.apiKey as string
      expect(await keyInfoStatus(apiKey)).toBe(200)

      const put = await call('PUT', `${base}/${created.id}`, { name: 'after', description: 'new', isActive: false, expiresAt: '2098-06-30T12:00:00.000Z' })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ id: created.id, name: 'after', description: 'new', isActive: false, expiresAt: '2098-06-30T12:00:00.000Z' })
      expect(put.body).not.toHaveProperty('apiKey')
      expect(put.body).not.toHaveProperty('hash')
      expect(Date.parse(put.body.updatedAt as string)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt as string))
      expect(put.body.createdAt).toBe(created.createdAt)
      expect((await call('GET', `${base}/${created.id}`)).body).toMatchObject({ name: 'after', description: 'new', isActive: false, expiresAt: '2098-06-30T12:00:00.000Z' })
      // The relay sees the change at once (its key cache is invalidated).
      expect(await keyInfoStatus(apiKey)).toBe(401)

      // A partial PUT touches only what it names; null clears the expiry.
      const again = await call('PUT', `${base}/${created.id}`, { isActive: true, expiresAt: null })
      expect(again.status).toBe(200)
      expect(again.body).toMatchObject({ name: 'after', description: 'new', isActive: true, expiresAt: null })
      expect(await keyInfoStatus(apiKey)).toBe(200)

      // An expiry in the past makes the key unusable.
      expect((await call('PUT', `${base}/${created.id}`, { expiresAt: '2020-01-01T00:00:00Z' })).status).toBe(200)
      expect(await keyInfoStatus(apiKey)).toBe(401)
    })

    it('PUT keeps the create rule over the merged settings: a window limit needs a window', async () => {
      const created = (await call('POST', base, { name: 'windowed', rateLimitWindow: 10, rateLimitRequests: 5 })).body
      // Raising the limit alone is fine (the window is already set).
      expect((await call('PUT', `${base}/${created.id}`, { rateLimitRequests: 9 })).status).toBe(200)
      // Removing the window while a window limit stays would make the limit do nothing.
      const bad = await call('PUT', `${base}/${created.id}`, { rateLimitWindow: 0 })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toMatch(/rateLimitWindow/)
      expect((await call('GET', `${base}/${created.id}`)).body).toMatchObject({ rateLimitWindow: 10, rateLimitRequests: 9 })
      // Both off together is fine.
      expect((await call('PUT', `${base}/${created.id}`, { rateLimitWindow: 0, rateLimitRequests: 0 })).status).toBe(200)
      const plain = (await call('POST', base, { name: 'plain' })).body
      expect((await call('PUT', `${base}/${plain.id}`, { rateLimitTokens: 100 })).status).toBe(400)
    })

    it('DELETE removes the key everywhere; then GET, PUT and DELETE answer 404', async () => {
      const { id, apiKey } = await server.createKey({ name: 'doomed' })
      const hmac = createHmac('sha256', API_KEY_SALT).update(apiKey).digest('hex')
      expect(await keyInfoStatus(apiKey)).toBe(200)

      const del = await call('DELETE', `${base}/${id}`)
      expect(del.status).toBe(200)
      expect((await call('GET', `${base}/${id}`)).status).toBe(404)
      expect((await call('PUT', `${base}/${id}`, { name: 'zombie' })).status).toBe(404)
      expect((await call('DELETE', `${base}/${id}`)).status).toBe(404)
      expect(((await call('GET', base)).body.items as Json[]).map(i => i.id)).not.toContain(id)

      expect(await server.redis.exists(`api_key:${id}`, `api_key_hash:${hmac}`)).toBe(0)
      expect(await server.redis.zscore('api_key_index', id)).toBeNull()
      expect(await keyInfoStatus(apiKey)).toBe(401)
    })

    it.each([
      ['missing name', {}, /name/],
      ['empty name', { name: '   ' }, /name/],
      ['a name over 100 characters', { name: 'n'.repeat(101) }, /name/],
      ['unknown field', { name: 'x', colour: 'red' }, /colour/],
      ['expiresAt not a date', { name: 'x', expiresAt: 'tomorrow' }, /expiresAt/],
      ['isActive not a boolean', { name: 'x', isActive: 'yes' }, /isActive/],
    ])('POST with %s → 400 naming the field', async (_, input, field) => {
      const before = (await call('GET', base)).body.total
      const { status, body } = await call('POST', base, input)
      expect(status).toBe(400)
      expect(body.message).toMatch(field)
      expect(body).not.toHaveProperty('apiKey')
      expect((await call('GET', base)).body.total).toBe(before)
    })

    it('a 400 lists each invalid field, structured, beside the one-line message', async () => {
      const bad = await call('POST', base, { name: '', concurrencyLimit: -1, tags: ['a,b'], colour: 'red' })
      expect(bad.status).toBe(400)
      expect(bad.body.message).toMatch(/name/)
      const fields = (bad.body.data as { fields: { field: string, message: string }[] }).fields
      expect(fields.map(f => f.field).sort()).toEqual(['', 'concurrencyLimit', 'name', 'tags.0'])
      expect(fields.find(f => f.field === 'name')?.message).toBe('name is required')
      expect(fields.find(f => f.field === '')?.message).toMatch(/colour/)
      // The rule checked over the stored key answers in the same shape.
      const { id } = await server.createKey({ name: 'windowed-fields', rateLimitWindow: 10, rateLimitRequests: 5 })
      const put = await call('PUT', `${base}/${id}`, { rateLimitWindow: 0 })
      expect(put.status).toBe(400)
      expect(put.body.data).toEqual({ fields: [{ field: 'rateLimitWindow', message: expect.stringMatching(/required when a window limit is set/) }] })
    })

    it('POST with a body that is not JSON → 400', async () => {
      const { status } = await call('POST', base, '{"name": ')
      expect(status).toBe(400)
    })

    it.each([
      ['unknown field', { colour: 'red' }, /colour/],
      ['expiresAt not a date', { expiresAt: '31/12/2099' }, /expiresAt/],
      ['empty name', { name: '' }, /name/],
    ])('PUT with %s → 400 naming the field, and changes nothing', async (_, input, field) => {
      const { id } = await server.createKey({ name: 'steady' })
      const { status, body } = await call('PUT', `${base}/${id}`, input)
      expect(status).toBe(400)
      expect(body.message).toMatch(field)
      expect((await call('GET', `${base}/${id}`)).body).toMatchObject({ name: 'steady', expiresAt: null })
    })

    itRejectsBadIds(base)
  })

  describe('Claude Console accounts', () => {
    const base = '/api/admin/claude-accounts'
    const proxyPassword = `pw-${randomBytes(8).toString('hex')}`
    const proxy = `socks5://proxyuser:${proxyPassword}@proxy.example:1080`

    /** A fresh upstream key each call, so "appears nowhere" checks cannot match another account. */
    const upstreamKey = () => `sk-ant-api03-${randomBytes(24).toString('hex')}`

    async function createAccount(fields: Json = {}): Promise<{ body: Json, text: string, apiKey: string }> {
      const apiKey = upstreamKey()
      const res = await call('POST', base, { type: 'console', name: 'console one', apiUrl: 'https://upstream.example', apiKey, priority: 10, proxy, ...fields })
      expect(res.status).toBe(201)
      return { ...res, apiKey: (fields.apiKey as string | undefined) ?? apiKey }
    }

    it('create returns 201 without the upstream key or the proxy password', async () => {
      const { body, text, apiKey } = await createAccount({ apiUrl: 'https://upstream.example/' })
      expect(body).toMatchObject({ type: 'console', name: 'console one', priority: 10, isActive: true })
      expect(body.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(body.apiUrl).toMatch(/^https:\/\/upstream\.example\/?$/)
      expect(body).not.toHaveProperty('apiKey')
      expect(text).not.toContain(apiKey)
      expect(text).not.toContain(apiKey.slice(-20))
      expect(text).not.toContain(proxyPassword)
      // The proxy stays recognisable, with its password masked.
      expect(body.proxy).toMatch(/^socks5:\/\/proxyuser:(\*+|\[redacted\]|…)@proxy\.example:1080\/?$/)
    })

    it('GET by id and the list never show the upstream key or the proxy password', async () => {
      const { body, apiKey } = await createAccount()
      const one = await call('GET', `${base}/${body.id}`)
      expect(one.status).toBe(200)
      expect(one.body).toMatchObject({ id: body.id, type: 'console', priority: 10, proxy: body.proxy })
      const list = await call('GET', base)
      expect(list.status).toBe(200)
      expect((list.body.items as Json[]).map(i => i.id)).toContain(body.id)
      for (const text of [one.text, list.text]) {
        expect(text).not.toContain(apiKey)
        expect(text).not.toContain(proxyPassword)
      }
    })

    it('Redis stores the upstream key and the proxy encrypted (v1. AES-GCM), nowhere in plaintext', async () => {
      const { body, apiKey } = await createAccount()
      const stored = await server.redis.hgetall(`claude_account:${body.id}`)
      expect(stored.apiKey).toMatch(/^v1\./)
      expect(stored.apiKey).not.toContain(apiKey)
      expect(stored.proxy).toMatch(/^v1\./)
      expect(stored.proxy).not.toContain(proxyPassword)
      // Real encryption under ENCRYPTION_KEY, not an encoding.
      expect(decrypt(stored.apiKey!)).toBe(apiKey)
      expect(decrypt(stored.proxy!)).toBe(proxy)
      expect(await keysContaining(server.redis, server.prefix, apiKey)).toEqual([])
      expect(await keysContaining(server.redis, server.prefix, proxyPassword)).toEqual([])

      // A random IV per value: the same key stored twice gives two different ciphertexts.
      const twin = await createAccount({ apiKey })
      expect((await server.redis.hgetall(`claude_account:${twin.body.id}`)).apiKey).not.toBe(stored.apiKey)
    })

    it.each([
      ['an invalid apiUrl', { apiUrl: 'not a url' }, /apiUrl/],
      ['a non-http apiUrl', { apiUrl: 'ftp://upstream.example' }, /apiUrl.*http/],
      ['a proxy with an ftp scheme', { proxy: `ftp://proxyuser:${proxyPassword}@proxy.example:21` }, /proxy.*scheme/],
      ['a proxy without a port', { proxy: 'socks5://proxy.example' }, /proxy.*port/],
      ['a proxy that is not a URL', { proxy: 'proxy.example:1080' }, /proxy/],
      ['an unknown type', { type: 'gemini' }, /type/],
      ['type oauth with a Console apiKey and no refreshToken', { type: 'oauth' }, /refreshToken|apiKey/],
      ['no type', { type: undefined }, /type/],
      ['no apiKey', { apiKey: undefined }, /apiKey/],
      ['a negative priority', { priority: -1 }, /priority/],
      ['an unknown field', { region: 'eu' }, /region/],
    ])('POST with %s → 400 with a message naming the problem', async (_, fields, message) => {
      const before = (await call('GET', base)).body.total
      const res = await call('POST', base, { type: 'console', name: 'bad', apiUrl: 'https://upstream.example', apiKey: upstreamKey(), priority: 1, proxy, ...fields })
      expect(res.status).toBe(400)
      expect(res.body.message).toMatch(message)
      // The error does not echo secrets from the rejected input.
      expect(res.text).not.toContain(proxyPassword)
      expect((await call('GET', base)).body.total).toBe(before)
    })

    it('a 400 lists each invalid field, structured, and echoes no secret', async () => {
      const res = await call('POST', base, { type: 'console', name: ' ', apiUrl: 'ftp://upstream.example', apiKey: upstreamKey(), priority: -1, proxy: `ftp://proxyuser:${proxyPassword}@proxy.example:21` })
      expect(res.status).toBe(400)
      const fields = (res.body.data as { fields: { field: string, message: string }[] }).fields
      expect(fields.map(f => f.field).sort()).toEqual(['apiUrl', 'name', 'priority', 'proxy'])
      expect(fields.find(f => f.field === 'apiUrl')?.message).toMatch(/http\(s\)/)
      expect(res.text).not.toContain(proxyPassword)
    })

    it('PUT updates fields, re-encrypts a new key, and can remove the proxy', async () => {
      const { body } = await createAccount()
      const newKey = upstreamKey()
      const put = await call('PUT', `${base}/${body.id}`, { name: 'renamed', priority: 99, apiKey: newKey, proxy: 'http://proxy2.example:8080', isActive: false })
      expect(put.status).toBe(200)
      expect(put.body).toMatchObject({ id: body.id, name: 'renamed', priority: 99, isActive: false, type: 'console', createdAt: body.createdAt })
      expect(put.body.proxy).toMatch(/^http:\/\/proxy2\.example:8080\/?$/)
      expect(put.text).not.toContain(newKey)
      const stored = await server.redis.hgetall(`claude_account:${body.id}`)
      expect(decrypt(stored.apiKey!)).toBe(newKey)
      expect(await keysContaining(server.redis, server.prefix, newKey)).toEqual([])
      expect((await call('GET', `${base}/${body.id}`)).body).toMatchObject({ name: 'renamed', priority: 99, isActive: false })

      const noProxy = await call('PUT', `${base}/${body.id}`, { proxy: null })
      expect(noProxy.status).toBe(200)
      expect(noProxy.body.proxy).toBeNull()
      expect(noProxy.body.name).toBe('renamed')
      expect((await server.redis.hgetall(`claude_account:${body.id}`)).proxy ?? '').toBe('')
    })

    it.each([
      ['a bad proxy', { proxy: 'ftp://proxy.example:21' }, /proxy/],
      ['a bad apiUrl', { apiUrl: 'nope' }, /apiUrl/],
      ['a type change', { type: 'oauth' }, /type/],
    ])('PUT with %s → 400, and nothing changes', async (_, fields, message) => {
      const { body } = await createAccount()
      const res = await call('PUT', `${base}/${body.id}`, fields)
      expect(res.status).toBe(400)
      expect(res.body.message).toMatch(message)
      expect((await call('GET', `${base}/${body.id}`)).body).toMatchObject({ apiUrl: body.apiUrl, proxy: body.proxy, type: 'console' })
    })

    it('DELETE removes the account; then GET, PUT and DELETE answer 404', async () => {
      const { body } = await createAccount()
      expect((await call('DELETE', `${base}/${body.id}`)).status).toBe(200)
      expect((await call('GET', `${base}/${body.id}`)).status).toBe(404)
      expect((await call('PUT', `${base}/${body.id}`, { name: 'zombie' })).status).toBe(404)
      expect((await call('DELETE', `${base}/${body.id}`)).status).toBe(404)
      expect(await server.redis.exists(`claude_account:${body.id}`)).toBe(0)
      expect(((await call('GET', base)).body.items as Json[]).map(i => i.id)).not.toContain(body.id)
    })

    itRejectsBadIds(base)

    it('GET list returns every account, once, with a matching total', async () => {
      const created = await Promise.all([1, 2, 3].map(i => createAccount({ name: `listed ${i}`, proxy: null })))
      const list = await call('GET', base)
      expect(list.status).toBe(200)
      const items = list.body.items as Json[]
      const ids = items.map(i => i.id)
      expect(new Set(ids).size).toBe(ids.length)
      expect(list.body.total).toBe(items.length)
      expect(ids).toEqual(expect.arrayContaining(created.map(c => c.body.id)))
      // Every account in Redis is listed.
      expect(items.length).toBe(await server.redis.scard('claude_account_index'))
      for (const c of created) {
        expect(items.find(i => i.id === c.body.id)).toMatchObject({ name: c.body.name, proxy: null })
        expect(list.text).not.toContain(c.apiKey)
      }
    })
  })
})
