import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ADMIN, REDIS_URL, runServerToExit, testSecrets } from '../helpers/server'

// Issue 13: a path setting that cannot be used ends start-up with one line naming the variable
// and the reason, exit 1, within a second or two — never a spin, a hang or a raw stack trace.
const base = () => ({ REDIS_URL, REDIS_KEY_PREFIX: 'test:config-faults:', ADMIN_PASSWORD: ADMIN.password, ...testSecrets() })
const scratch = mkdtempSync(join(tmpdir(), 'crs-config-faults-'))
const aFile = join(scratch, 'a-file')
writeFileSync(aFile, 'not a directory')
const readOnly = join(scratch, 'read-only')
const root = process.getuid?.() === 0

describe('unusable LOG_DIR', () => {
  const cases: [string, string, RegExp][] = [
    ['under /proc', '/proc/crs-logs', /kernel file system/],
    ['not a directory', aFile, /not a directory/],
    ['inside a file', join(aFile, 'logs'), /not a directory/],
    ['missing parent under /proc', '/proc/self/nope/logs', /kernel file system/],
  ]
  // root writes through permission bits, so only a non-root run can try a read-only directory.
  if (!root) cases.push(['not writable', readOnly, /not writable/])
  it.each(cases)('%s → one line naming LOG_DIR, exit 1, quickly', async (_, dir, reason) => {
    if (dir === readOnly) {
      writeFileSync(join(scratch, 'x'), '')
      chmodSync(scratch, 0o555)
    }
    const started = Date.now()
    const r = await runServerToExit({ ...base(), LOG_DIR: dir }, 10_000)
    expect(r.code, r.stderr).toBe(1)
    expect(Date.now() - started).toBeLessThan(5000)
    const lines = r.stderr.split('\n').filter(l => l.includes('LOG_DIR'))
    expect(lines, r.stderr).toHaveLength(1)
    expect(lines[0]).toMatch(reason)
    expect(r.stderr + r.stdout).not.toMatch(/\n\s+at \S+ \(/) // no stack trace
  })
})
