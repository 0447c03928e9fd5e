import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import { ensureSecrets } from '../../scripts/setup.mjs'

const mode = (file: string) => statSync(file).mode & 0o777

describe('ensureSecrets writes .env readable by its owner only', () => {
  let root = ''
  let envFile = ''
  let lines: string[] = []
  const log = (line: string) => lines.push(line)
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'crs-setup-'))
    envFile = join(root, '.env')
    lines = []
    // A world-readable example, as a git checkout has it.
    writeFileSync(join(root, '.env.example'), 'PORT=3000\nJWT_SECRET=\nENCRYPTION_KEY=\nAPI_KEY_SALT=\n', { mode: 0o644 })
    chmodSync(join(root, '.env.example'), 0o644)
  })

  it('a new .env (from a 0644 .env.example) is 0600', () => {
    expect(ensureSecrets(envFile, { root, env: {}, log })).toEqual(['JWT_SECRET', 'ENCRYPTION_KEY', 'API_KEY_SALT'])
    expect(mode(envFile)).toBe(0o600)
    expect(readFileSync(envFile, 'utf8')).toMatch(/^JWT_SECRET=[0-9a-f]{64}$/m)
  })

  it('an existing 0644 .env it fills in is tightened to 0600', () => {
    writeFileSync(envFile, 'PORT=3000\n')
    chmodSync(envFile, 0o644)
    expect(ensureSecrets(envFile, { root, env: {}, log })).toHaveLength(3)
    expect(mode(envFile)).toBe(0o600)
    expect(readFileSync(envFile, 'utf8')).toMatch(/^PORT=3000$/m)
  })

  it('a complete .env is not rewritten, but a readable-by-others one gets a warning', () => {
    const text = 'JWT_SECRET=a\nENCRYPTION_KEY=b\nAPI_KEY_SALT=c\n'
    writeFileSync(envFile, text)
    chmodSync(envFile, 0o644)
    expect(ensureSecrets(envFile, { root, env: {}, log })).toEqual([])
    expect(readFileSync(envFile, 'utf8')).toBe(text)
    expect(lines.join('\n')).toMatch(/chmod 600/)
    chmodSync(envFile, 0o600)
    lines = []
    ensureSecrets(envFile, { root, env: {}, log })
    expect(lines).toEqual([])
  })
})
