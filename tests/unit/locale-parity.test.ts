import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

// Every locale has every message of every screen file, with the same {placeholders} (plural forms
// may repeat one): a missing key would show the English fallback, or the key itself, in the
// middle of a translated screen.
const ROOT = join(import.meta.dirname, '../../locales')
const locales = readdirSync(ROOT).filter(d => !d.startsWith('.')).sort()
const files = readdirSync(join(ROOT, 'en')).filter(f => f.endsWith('.json')).sort()

/** dotted path → message, for every string leaf. */
function leaves(v: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (typeof v === 'string') out.set(prefix, v)
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out)
  return out
}
const read = (locale: string, file: string) => leaves(JSON.parse(readFileSync(join(ROOT, locale, file), 'utf8')))
const placeholders = (s: string) => [...new Set([...s.matchAll(/\{(\w+)\}/g)].map(m => m[1]))].sort()

describe('locale parity', () => {
  it('there is more than one locale, and each has the same screen files as en', () => {
    expect(locales).toContain('en')
    expect(locales.length).toBeGreaterThan(1)
    for (const l of locales) expect(readdirSync(join(ROOT, l)).filter(f => f.endsWith('.json')).sort(), l).toEqual(files)
  })

  it.each(locales.filter(l => l !== 'en').flatMap(l => files.map(f => [l, f] as const)))('%s/%s: the same keys and placeholders as en', (locale, file) => {
    const en = read('en', file)
    const other = read(locale, file)
    expect([...other.keys()].sort()).toEqual([...en.keys()].sort())
    for (const [k, msg] of en) expect(placeholders(other.get(k) ?? ''), `${file}: ${k}`).toEqual(placeholders(msg))
  })
})
