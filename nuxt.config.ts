import { fileURLToPath } from 'node:url'

// Runtime configuration is NOT read here: server/config reads process.env once when the
// process starts, so a build can be moved between machines and configured by env alone.
export default defineNuxtConfig({
  modules: ['@pinia/nuxt', '@nuxtjs/tailwindcss', '@nuxt/eslint'],
  imports: { dirs: ['stores'], presets: [{ from: 'vue-i18n', imports: ['useI18n'] }] },
  devtools: { enabled: false },
  app: {
    head: {
      title: 'Claude Relay',
      meta: [{ name: 'viewport', content: 'width=device-width, initial-scale=1' }],
      // Apply the saved theme before the first paint (no flash of the wrong theme).
      script: [{
        innerHTML: `(function(){try{var c=localStorage.getItem('crs-theme');var d=c==='dark'||(c!=='light'&&matchMedia('(prefers-color-scheme: dark)').matches);document.documentElement.classList.toggle('dark',d)}catch(e){}})()`,
        tagPosition: 'head',
      }],
    },
  },
  routeRules: {
    '/': { redirect: '/web' },
    // The admin console is a client-side app (its data needs the admin session anyway).
    '/web/**': { ssr: false },
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
      // The built server starts from server/entry.ts: node-server's entry plus the socket bounds
      // (docs/architecture.md "Connection limits"). `nuxt dev` keeps nitro-dev's own entry.
      if (!config.dev) Object.assign(config, { preset: 'node-server', entry: fileURLToPath(new URL('./server/entry.ts', import.meta.url)) })
    },
    // The CLI and data tools ship in .output/cli, bundled: they run where the server runs (Docker).
    'nitro:init'(nitro) {
      if (nitro.options.dev) return
      nitro.hooks.hook('compiled', async () => {
        const { buildCli } = await import('./scripts/build-cli.mjs')
        await buildCli(nitro.options.rootDir, nitro.options.output.dir)
      })
    },
  },
  eslint: { config: { stylistic: true } },
})
