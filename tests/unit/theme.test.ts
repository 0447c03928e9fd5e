import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it } from 'vitest'
import { applyTheme, THEME_KEY, useThemeStore } from '../../stores/theme'

/** A browser's storage, <html> class list and colour-scheme preference, in memory. */
function fakeBrowser(prefersDark: boolean) {
  const store = new Map<string, string>()
  const classes = new Set<string>()
  Object.assign(globalThis, {
    localStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => store.set(k, v) },
    matchMedia: () => ({ matches: prefersDark }),
    document: { documentElement: { classList: { toggle: (c: string, on: boolean) => (on ? classes.add(c) : classes.delete(c)) } } },
  })
  return { store, classes }
}

describe('theme store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('dark for "dark", light for "light", the system preference for "system"', () => {
    fakeBrowser(false)
    expect(applyTheme('dark', false)).toBe(true)
    expect(applyTheme('light', true)).toBe(false)
    expect(applyTheme('system', true)).toBe(true)
    expect(applyTheme('system', false)).toBe(false)
  })

  it('loads the saved choice (else follows the system) and applies it to <html>', () => {
    const b = fakeBrowser(true)
    const theme = useThemeStore()
    theme.load()
    expect(theme.choice).toBe('system')
    expect(b.classes.has('dark')).toBe(true)
    b.store.set(THEME_KEY, 'light')
    theme.load()
    expect(theme.choice).toBe('light')
    expect(b.classes.has('dark')).toBe(false)
    b.store.set(THEME_KEY, 'garbage')
    theme.load()
    expect(theme.choice).toBe('system')
  })

  it('cycles light → dark → system → light, remembering each choice', () => {
    const b = fakeBrowser(false)
    const theme = useThemeStore()
    theme.set('light')
    const seen: string[] = []
    for (let i = 0; i < 3; i++) {
      theme.cycle()
      seen.push(`${theme.choice}:${b.store.get(THEME_KEY)}:${b.classes.has('dark')}`)
    }
    expect(seen).toEqual(['dark:dark:true', 'system:system:false', 'light:light:false'])
  })
})
