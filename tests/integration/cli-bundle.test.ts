import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { CliSandbox, type CliResult, wipe } from '../helpers/cli'

// Issue 13: the CLI and data tools run from the built output alone (what the slim Docker image
// has): `.output/cli` is copied to a folder with no node_modules and no sources above it.

const dir = mkdtempSync(join(tmpdir(), 'crs-cli-bundle-'))
cpSync(resolve('.output/cli'), join(dir, 'cli'), { recursive: true })
const sandbox = new CliSandbox()
afterAll(async () => {
  await wipe(sandbox.redis, sandbox.prefix)
  sandbox.redis.disconnect()
})

function tool(name: string, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [join(dir, 'cli', `${name}.mjs`), ...args], { cwd: dir, env: sandbox.env(), stdio: ['ignore', 'pipe', 'pipe'] })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d: Buffer) => out.stdout += d)
  child.stderr.on('data', (d: Buffer) => out.stderr += d)
  return new Promise(done => child.once('close', code => done({ code, ...out })))
}

describe('the bundled CLI (.output/cli) without node_modules', () => {
  it('creates and lists keys, checks integrity and exports, against the same Redis the server uses', async () => {
    const created = await tool('cli', ['keys', 'create', '--name', 'from-the-bundle', '--json'])
    expect(created.code, created.stderr).toBe(0)
    const key = JSON.parse(created.stdout) as { id: string, apiKey: string }
    expect(key.apiKey).toMatch(/^cr_/)
    const list = await tool('cli', ['keys', 'list', '--json'])
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout).toContain('from-the-bundle')
    const check = await tool('check-integrity', ['--json'])
    expect(check.code, check.stderr + check.stdout).toBe(0)
    const exported = await tool('data', ['export', '--out', join(dir, 'backup.json')])
    expect(exported.code, exported.stderr).toBe(0)
    const migrate = await tool('migrate-crs', ['--help'])
    expect(migrate.code, migrate.stderr).toBe(0)
    expect(migrate.stdout).toContain('--crs-encryption-key')
  })
})
