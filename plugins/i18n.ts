import { createI18n } from 'vue-i18n'

/** Every message file: locales/<locale>/<domain>.json, merged per locale (one file per screen). */
const files = import.meta.glob<{ default: Record<string, unknown> }>('../locales/*/*.json', { eager: true })

export const LOCALES = ['en', 'zh-CN'] as const
export type Locale = typeof LOCALES[number]
export const LOCALE_KEY = 'crs-locale'

function messages() {
  const out: Record<string, Record<string, unknown>> = { 'en': {}, 'zh-CN': {} }
  for (const [path, mod] of Object.entries(files)) {
    const m = /locales\/([^/]+)\/([^/]+)\.json$/.exec(path)
    if (m && out[m[1]!]) out[m[1]!]![m[2]!] = mod.default
  }
  // vue-i18n's message types are narrower than parsed JSON; the files are plain nested strings.
  return out as Record<Locale, never>
}

function initialLocale(): Locale {
  if (import.meta.server) return 'en'
  const saved = localStorage.getItem(LOCALE_KEY)
  if (saved && (LOCALES as readonly string[]).includes(saved)) return saved as Locale
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en'
}

// Messages are namespaced by file: t('keys.title') reads locales/<locale>/keys.json → title.
export default defineNuxtPlugin((nuxtApp) => {
  const i18n = createI18n({ legacy: false, globalInjection: true, locale: initialLocale(), fallbackLocale: 'en', messages: messages() })
  nuxtApp.vueApp.use(i18n)
})
