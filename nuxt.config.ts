// Runtime configuration is NOT read here: server/config reads process.env once when the
// process starts, so a build can be moved between machines and configured by env alone.
export default defineNuxtConfig({
  modules: ['@pinia/nuxt', '@nuxtjs/tailwindcss', '@nuxt/eslint'],
  imports: { dirs: ['stores'] },
  devtools: { enabled: false },
  routeRules: {
    '/': { redirect: '/web' },
  },
  compatibilityDate: '2025-07-15',
  typescript: { strict: true },
  telemetry: false,
  eslint: { config: { stylistic: true } },
})
