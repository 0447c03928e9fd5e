import { defineStore } from 'pinia'

export type ThemeChoice = 'light' | 'dark' | 'system'
export const THEME_KEY = 'crs-theme'

/** The dark class on <html> for a choice (system: the OS preference). */
export function applyTheme(choice: ThemeChoice, prefersDark: boolean): boolean {
  const dark = choice === 'dark' || (choice === 'system' && prefersDark)
  if (typeof document !== 'undefined') document.documentElement.classList.toggle('dark', dark)
  return dark
}

/** Light / dark / follow the system, remembered per browser (the head script applies it before paint). */
export const useThemeStore = defineStore('theme', {
  state: () => ({ choice: 'system' as ThemeChoice }),
  actions: {
    load() {
      const saved = localStorage.getItem(THEME_KEY)
      this.choice = saved === 'light' || saved === 'dark' ? saved : 'system'
      applyTheme(this.choice, matchMedia('(prefers-color-scheme: dark)').matches)
    },
    set(choice: ThemeChoice) {
      this.choice = choice
      localStorage.setItem(THEME_KEY, choice)
      applyTheme(choice, matchMedia('(prefers-color-scheme: dark)').matches)
    },
    /** light → dark → system → light. */
    cycle() {
      this.set(this.choice === 'light' ? 'dark' : this.choice === 'dark' ? 'system' : 'light')
    },
  },
})
