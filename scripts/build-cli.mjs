// Bundle the CLI and data tools into .output/cli/*.mjs (one self-contained file each, no
// node_modules or tsx needed), so they run wherever the built server runs — the slim Docker image
// included: `node .output/cli/cli.mjs keys list`. Called after every `nuxt build` (nuxt.config.ts).
import { build } from 'esbuild'
import { resolve } from 'node:path'

const CLI_TOOLS = ['cli', 'check-integrity', 'data', 'migrate-crs']

/** Bundle the tools from `root`/scripts into `outDir`/cli. */
export async function buildCli(root, outDir) {
  await build({
    entryPoints: Object.fromEntries(CLI_TOOLS.map(name => [name, resolve(root, 'scripts', `${name}.ts`)])),
    outdir: resolve(outDir, 'cli'),
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    // Bundled CommonJS dependencies (ioredis) call require() for Node's built-ins.
    banner: { js: 'import { createRequire as __crsRequire } from \'node:module\'; const require = __crsRequire(import.meta.url);' },
  })
}

if (import.meta.url === `file://${process.argv[1]}`) await buildCli(process.cwd(), resolve('.output'))
