import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Problem } from './integrity'

const SECRETS = {
  JWT_SECRET: { rule: (v: string) => v.length >= 32, need: 'at least 32 characters' },
  ENCRYPTION_KEY: { rule: (v: string) => Buffer.byteLength(v, 'utf8') === 32, need: 'exactly 32 characters' },
  API_KEY_SALT: { rule: (v: string) => v.length >= 16, need: 'at least 16 characters' },
} as const

// Values people paste from guides instead of generating one.
const PLACEHOLDER = /change.?me|changeit|placeholder|example|your[-_ ]?(jwt|secret|key|salt|encryption)|^(secret|password|test)+$/i

/** The non-empty values an env-example file assigns (the shipped .env.example has none, but a fork may). */
function exampleValues(file = fileURLToPath(new URL('../../.env.example', import.meta.url))): Map<string, string> {
  const out = new Map<string, string>()
  if (!existsSync(file)) return out
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*)$/.exec(line)
    const value = m?.[2]?.replace(/^["']|["']$/g, '').trim()
    if (m && value) out.set(m[1]!, value)
  }
  return out
}

/**
 * The three secrets: set, long enough, not an example or placeholder value, not a run of a few
 * characters, and not one value reused for two purposes.
 */
export function checkSecrets(env: NodeJS.ProcessEnv, examples = exampleValues()): Problem[] {
  const out: Problem[] = []
  const seen = new Map<string, string>()
  for (const [name, { rule, need }] of Object.entries(SECRETS)) {
    const v = env[name] ?? ''
    const add = (message: string) => out.push({ check: 'secrets', key: name, message })
    if (!v) {
      add('is not set (run `npm run setup` to generate it)')
      continue
    }
    if (!rule(v)) add(`must be ${need} (got ${name === 'ENCRYPTION_KEY' ? `${Buffer.byteLength(v, 'utf8')} bytes` : `${v.length}`})`)
    if (examples.get(name) === v) add('is the example value from .env.example: generate a real one (`npm run setup` on a fresh .env)')
    else if (PLACEHOLDER.test(v)) add('looks like a placeholder, not a generated secret')
    // Random secrets of these lengths use many distinct characters; "aaaa…" or "abab…" do not.
    if (new Set(v).size < 6) add(`is weak: only ${new Set(v).size} distinct characters`)
    const twin = seen.get(v)
    if (twin) add(`has the same value as ${twin}: each secret must be different`)
    seen.set(v, name)
  }
  return out
}
