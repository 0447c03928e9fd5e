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
  hooks: {
    // The server runs on Node ≥ 20 only: let esbuild keep modern syntax (BigInt literals in money.ts).
    'nitro:config'(config) {
      // Nuxt's fallback typing of the Nitro config omits `esbuild`; Nitro reads it.
      const c = config as { esbuild?: { options?: Record<string, unknown> } }
      c.esbuild = { options: { ...c.esbuild?.options, target: 'node20' } }
    },
  },
  eslint: { config: { stylistic: true } },
})
