import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { getAccount } from '../../server/accounts/store'
import { crsKeyHash, saveLegacySecret } from '../../server/keys/legacy'
import { decryptSecret, encryptSecret } from '../../server/crypto'
import { rk } from '../../server/store/keys'
import { pollUntil } from '../helpers/client'
import { CliSandbox, CONSOLE_KEY, PROXY, REFRESH_TOKEN, seedDataset, snapshot, wipe } from '../helpers/cli'

// `npm run check:integrity` and `npm run data:export|import` as child processes against private
// key prefixes in the test Redis, on a dataset written with the server's own modules.

const dir = mkdtempSync(join(tmpdir(), 'crs-data-'))
const sandboxes: CliSandbox[] = []
const sandbox = () => {
  const s = new CliSandbox()
  sandboxes.push(s)
  return s
}
afterAll(async () => {
  await Promise.all(sandboxes.map(s => s.close()))
  rmSync(dir, { recursive: true, force: true })
})

interface Report { ok: boolean, problems: { check: string, key: string, message: string, fixable: boolean }[], fixed: string[], remaining: Report['problems'] }

describe.concurrent('data tools', { timeout: 90_000 }, () => {
  it('check:integrity: a clean dataset passes; planted problems are reported; --fix repairs the safe ones', async () => {
    const s = sandbox()
    const { keys, claude } = await seedDataset(s.redis, s.secrets)
    const [clean, weak] = await Promise.all([
      s.run('check-integrity.ts', []),
      s.run('check-integrity.ts', ['--json'], { env: { JWT_SECRET: 'a'.repeat(40), API_KEY_SALT: s.secrets.ENCRYPTION_KEY! } }),
    ])
    expect(clean.stderr).toBe('')
    expect(clean.stdout).toContain('No problems found')
    expect(clean.code).toBe(0)
    expect(weak.code).toBe(1)
    expect((JSON.parse(weak.stdout) as Report).problems.filter(p => p.check === 'secrets').map(p => p.key)).toEqual(['JWT_SECRET', 'API_KEY_SALT'])

    const dangling = rk.apiKeyHash('0'.repeat(64))
    const unindexed = keys[1]!.record.id
    await s.redis.set(dangling, 'a-deleted-key')
    await s.redis.zrem(rk.apiKeyIndex(), unindexed)
    await s.redis.hset(rk.account('claude', claude.id), 'proxy', encryptSecret(PROXY, 'another-32-character-secret-key!'))
    await s.redis.rpush(rk.usageRecent('a-deleted-key'), '{"status":200}')
    await s.redis.set(rk.session('forever'), 'some-admin')

    const found = await s.run('check-integrity.ts', ['--json'])
    expect(found.code).toBe(1)
    const problems = (JSON.parse(found.stdout) as Report).problems
    expect(problems.map(p => [p.check, p.key, p.fixable]).sort()).toEqual([
      ['account', rk.account('claude', claude.id), false],
      ['api-key', dangling, true],
      ['api-key', rk.apiKey(unindexed), true],
      ['orphan', rk.usageRecent('a-deleted-key'), true],
      ['ttl', rk.session('forever'), true],
    ].sort())
    expect(problems.find(p => p.check === 'account')!.message).toContain('field proxy does not decrypt with the current ENCRYPTION_KEY')

    const fixed = await s.run('check-integrity.ts', ['--fix'])
    expect(fixed.code).toBe(1)
    expect(fixed.stdout).toContain(`deleted ${dangling}`)
    expect(fixed.stdout).toContain(`added ${unindexed} to api_key_index`)
    expect(fixed.stdout).toMatch(/1 problem left[\s\S]*field proxy does not decrypt/)
    expect(await s.redis.exists(dangling, rk.usageRecent('a-deleted-key'))).toBe(0)
    expect(await s.redis.zscore(rk.apiKeyIndex(), unindexed)).not.toBeNull()
    expect(await s.redis.ttl(rk.session('forever'))).toBeGreaterThan(0)

    const after = await s.run('check-integrity.ts', ['--json'])
    expect(after.code).toBe(1)
    expect((JSON.parse(after.stdout) as Report).problems.map(p => p.key)).toEqual([rk.account('claude', claude.id)])
  })

  it('export → wipe → import restores the same Redis contents; a second import changes nothing; other versions are refused', async () => {
    const s = sandbox()
    await s.listen()
    const { keys, claude, gemini } = await seedDataset(s.redis, s.secrets)
    const before = await snapshot(s.redis, s.prefix)
    expect(Object.keys(before).some(k => k.startsWith('usage:day:'))).toBe(true)
    const file = join(dir, 'backup.json')
    const exported = await s.run('data.ts', ['export', '--out', file])
    expect(exported.stderr).toBe('')
    expect(exported.code).toBe(0)
    expect(statSync(file).mode & 0o077).toBe(0)
    const text = readFileSync(file, 'utf8')
    for (const secret of [CONSOLE_KEY, PROXY, REFRESH_TOKEN]) expect(text).not.toContain(secret)

    await wipe(s.redis, s.prefix)
    expect(await snapshot(s.redis, s.prefix)).toEqual({})
    const imported = await s.run('data.ts', ['import', '--in', file])
    expect(imported.stderr).toBe('')
    expect(imported.code).toBe(0)
    expect(imported.stdout).toMatch(/Imported 2 API keys, 1 Claude account, 1 Gemini account, 1 admin, 1 price override/)
    expect(await snapshot(s.redis, s.prefix)).toEqual(before)
    // Running servers drop their cached keys, accounts and price table.
    const heard = await pollUntil(async () => [...s.published], m => m.length >= 5, 2000)
    expect(heard.sort()).toEqual([...keys.map(k => `api_key:${k.record.id}`), `claude_account:${claude.id}`, `gemini_account:${gemini.id}`, 'pricing'].sort())

    const again = await s.run('data.ts', ['import', '--in', file, '--json'])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ apiKeys: 2, accounts: { claude: 1, gemini: 1 } })
    expect(await snapshot(s.redis, s.prefix)).toEqual(before)

    const future = join(dir, 'future.json')
    writeFileSync(future, JSON.stringify({ ...JSON.parse(text), version: 2 }))
    const refused = await s.run('data.ts', ['import', '--in', future])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('format version 2; this tool reads version 1')
  })

  it('keys imported from claude-relay-service and not used yet survive a backup: the legacy hashes and the CRS secret come back (re-encrypted under another ENCRYPTION_KEY)', async () => {
    const s = sandbox()
    const { keys } = await seedDataset(s.redis, s.secrets)
    const crsSecret = 'crs-secret-for-backup-7c1e'
    await saveLegacySecret(s.redis, s.encKey, crsSecret)
    await s.redis.hset(rk.legacyKeyHashes(), crsKeyHash('cr_unused-imported-key', crsSecret), keys[0]!.record.id)
    const before = await snapshot(s.redis, s.prefix)
    const sealed = join(dir, 'legacy-sealed.json')
    const plain = join(dir, 'legacy-plain.json')
    expect((await s.run('data.ts', ['export', '--out', sealed])).code).toBe(0)
    expect((await s.run('data.ts', ['export', '--out', plain, '--decrypt'])).code).toBe(0)
    expect(readFileSync(sealed, 'utf8')).not.toContain(crsSecret)

    await wipe(s.redis, s.prefix)
    expect((await s.run('data.ts', ['import', '--in', sealed])).code).toBe(0)
    expect(await snapshot(s.redis, s.prefix)).toEqual(before)

    const t = sandbox() // another installation
    expect((await t.run('data.ts', ['import', '--in', plain])).code).toBe(0)
    expect(await t.redis.hgetall(rk.legacyKeyHashes())).toEqual(await s.redis.hgetall(rk.legacyKeyHashes()))
    expect(decryptSecret((await t.redis.get(rk.legacySecret()))!, t.encKey)).toBe(crsSecret)
  })

  it('--decrypt exports plaintext secrets (with a warning); an import under another ENCRYPTION_KEY encrypts them with that key', async () => {
    const s = sandbox()
    const { claude, gemini } = await seedDataset(s.redis, s.secrets)
    const plain = join(dir, 'plain.json')
    const sealed = join(dir, 'sealed.json')
    const [decrypted, encrypted] = await Promise.all([
      s.run('data.ts', ['export', '--out', plain, '--decrypt']), s.run('data.ts', ['export', '--out', sealed]),
    ])
    expect(decrypted.code).toBe(0)
    expect(decrypted.stderr).toMatch(/warning: .*PLAINTEXT secrets/)
    const text = readFileSync(plain, 'utf8')
    for (const secret of [CONSOLE_KEY, PROXY, REFRESH_TOKEN]) expect(text).toContain(secret)
    expect(encrypted.code).toBe(0)

    const t = sandbox() // other secrets: another installation
    const wrongKey = await t.run('data.ts', ['import', '--in', sealed])
    expect(wrongKey.code).toBe(1)
    expect(wrongKey.stderr).toContain('encrypted with a different ENCRYPTION_KEY')
    expect(await snapshot(t.redis, t.prefix)).toEqual({})

    const moved = await t.run('data.ts', ['import', '--in', plain])
    expect(moved.code).toBe(0)
    expect(moved.stderr).toContain('different API_KEY_SALT')
    const account = (await getAccount(t.redis, t.encKey, 'claude', claude.id))!
    expect([account.apiKey, account.proxy]).toEqual([CONSOLE_KEY, PROXY])
    expect((await getAccount(t.redis, t.encKey, 'gemini', gemini.id))!.oauth!.refreshToken).toBe(REFRESH_TOKEN)
    const stored = await t.redis.hget(rk.account('claude', claude.id), 'apiKey')
    expect(stored).not.toContain(CONSOLE_KEY)
    expect(() => decryptSecret(stored!, s.encKey)).toThrow()

    const first = await snapshot(t.redis, t.prefix)
    expect((await t.run('data.ts', ['import', '--in', plain])).code).toBe(0)
    expect(await snapshot(t.redis, t.prefix)).toEqual(first)
  })
})
