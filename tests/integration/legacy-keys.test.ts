import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateApiKey, hashApiKey } from '../../server/crypto'
import { addLegacyHash, countLegacyHashes, crsKeyHash, saveLegacySecret } from '../../server/keys/legacy'
import { apiKeyRecord, writeApiKey } from '../../server/keys/records'
import { rk } from '../../server/store/keys'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { CliSandbox } from '../helpers/cli'
import { messageBody, pollUntil } from '../helpers/client'
import { TestServer, testSecrets } from '../helpers/server'

// Keys imported from claude-relay-service (issue 16): written here the way the migration writes them
// (own id, no HMAC, the CRS hash as a legacy hash), then used through the built server.
const CRS_SECRET = 'CHANGE-THIS-32-CHARACTER-KEY-NOW'

interface Report { ok: boolean, problems: { check: string, key: string, message: string, fixable: boolean }[], legacyKeyHashes: number }

describe('keys imported from claude-relay-service', { timeout: 60_000 }, () => {
  const secrets = testSecrets()
  const up = new FakeAnthropic()
  const server = new TestServer(secrets)
  let cli: CliSandbox

  beforeAll(async () => {
    await up.start()
    await server.start()
    await server.createConsoleAccount(up.url)
    cli = new CliSandbox(secrets, server.prefix)
  })
  afterAll(async () => {
    await server.stop()
    await up.stop()
    await cli.close()
  })

  /** Import one key like the migration: the secret, the record with hash '', the legacy hash. */
  async function importKey(name: string): Promise<{ id: string, apiKey: string }> {
    const apiKey = generateApiKey()
    const record = apiKeyRecord({ name, tags: ['crs'] }, { id: randomUUID(), createdAt: '2025-03-04T05:06:07.000Z' })
    await saveLegacySecret(server.redis, secrets.ENCRYPTION_KEY!, CRS_SECRET)
    const tx = server.redis.multi()
    writeApiKey(tx, record)
    addLegacyHash(tx, crsKeyHash(apiKey, CRS_SECRET), record.id)
    await tx.exec()
    return { id: record.id, apiKey }
  }
  const send = async (key: string) => {
    const res = await fetch(`${server.url}/api/v1/messages`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: messageBody() })
    return { status: res.status, body: await res.text() }
  }
  const integrity = async (...args: string[]) => {
    const run = await cli.run('check-integrity.ts', ['--json', ...args])
    expect(run.stderr).toBe('')
    return JSON.parse(run.stdout) as Report
  }

  it('the plaintext key authenticates, is relayed, and moves to the HMAC: the legacy hash goes', async () => {
    const apiKey = generateApiKey()
    // Before any import: a 401, and this instance remembers that no CRS secret is stored.
    expect((await send(apiKey)).status).toBe(401)

    const imported = await importKey('from crs')
    expect(await integrity()).toMatchObject({ ok: true, problems: [], legacyKeyHashes: 1 })
    // The server hears `legacy_secret`; the first key's 401 is cached for at most 2 s.
    const relayed = up.requests.length
    const first = await pollUntil(() => send(imported.apiKey), r => r.status === 200, 5000)
    expect(first.status).toBe(200)
    expect(up.requests).toHaveLength(relayed + 1)
    expect(up.requests.at(-1)!.path).toMatch(/^\/v1\/messages/)

    const hmac = hashApiKey(imported.apiKey, secrets.API_KEY_SALT!)
    expect(await countLegacyHashes(server.redis)).toBe(0)
    expect(await server.redis.get(rk.apiKeyHash(hmac))).toBe(imported.id)
    expect(await server.redis.hget(rk.apiKey(imported.id), 'hash')).toBe(hmac)
    expect((await send(imported.apiKey)).status).toBe(200)

    const wrong = await send(generateApiKey())
    expect(wrong.status).toBe(401)
    expect(JSON.parse(wrong.body)).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect(await integrity()).toMatchObject({ ok: true, legacyKeyHashes: 0 })
  })

  it('the admin API lists, updates and deletes a key not used yet; delete takes its legacy hash along', async () => {
    const { id, apiKey } = await importKey('admin view')
    const list = await server.admin<{ items: Record<string, unknown>[] }>('GET', '/api/admin/api-keys?q=admin%20view')
    expect(list.status).toBe(200)
    expect(list.body.items).toEqual([expect.objectContaining({ id, name: 'admin view', tags: ['crs'], createdAt: '2025-03-04T05:06:07.000Z' })])
    expect(list.body.items[0]).not.toHaveProperty('hash')

    const put = await server.admin('PUT', `/api/admin/api-keys/${id}`, { name: 'renamed', rateLimitWindow: 1, rateLimitRequests: 100 })
    expect(put.status).toBe(200)
    expect(await server.redis.hget(rk.apiKey(id), 'hash')).toBe('')
    expect(await countLegacyHashes(server.redis)).toBe(1)

    expect((await server.admin('DELETE', `/api/admin/api-keys/${id}`)).status).toBe(200)
    expect(await countLegacyHashes(server.redis)).toBe(0)
    expect((await send(apiKey)).status).toBe(401)
    expect(await integrity()).toMatchObject({ ok: true, legacyKeyHashes: 0 })
  })

  it('check:integrity reports a legacy hash whose key is gone, and --fix removes it', async () => {
    const tx = server.redis.multi()
    addLegacyHash(tx, crsKeyHash('cr_gone', CRS_SECRET), 'a-deleted-key')
    await tx.exec()
    const found = await integrity()
    expect(found.legacyKeyHashes).toBe(1)
    expect(found.problems).toEqual([expect.objectContaining({ check: 'orphan', key: rk.legacyKeyHashes(), fixable: true })])
    expect(found.problems[0]!.message).toContain('a-deleted-key, which no longer exists')
    expect(await integrity('--fix')).toMatchObject({ ok: true, legacyKeyHashes: 0 })
  })
})
