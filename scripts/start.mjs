#!/usr/bin/env node
// `npm start`: setup → build when needed → find or start Redis → run the built server.
// Node built-ins only, so it also serves as the Docker image's entry point.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { connect } from 'node:net'
import { join, resolve } from 'node:path'
import { serverNodeFlags } from './server-flags.mjs'
import { ensureSecrets } from './setup.mjs'

const root = process.cwd()
const envFile = resolve(process.env.CRS_ENV_FILE || '.env')
const log = msg => console.log(`[start] ${msg}`)

// 1. Secrets, then the env file into process.env (values already in the environment win).
// Empty variables count as unset (docker compose passes `${X:-}` as ""), so the file can fill them.
for (const [name, value] of Object.entries(process.env)) if (value === '') delete process.env[name]
ensureSecrets(envFile, { root, log: m => console.log(m) })
process.loadEnvFile(envFile)

// 2. Build when .output is missing or older than any source file.
const SOURCES = ['server', 'pages', 'components', 'composables', 'stores', 'layouts', 'middleware', 'assets', 'public', 'app.vue', 'nuxt.config.ts', 'package.json']
function newestMtime(path) {
  if (!existsSync(path)) return 0
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return readdirSync(path).reduce((m, name) => Math.max(m, newestMtime(join(path, name))), st.mtimeMs)
}
const builtAt = existsSync('.output/nitro.json') ? statSync('.output/nitro.json').mtimeMs : 0
// A deployed image has .output but no toolchain: CRS_SKIP_BUILD=1 (or no nuxt installed) runs it as is.
const canBuild = process.env.CRS_SKIP_BUILD !== '1' && existsSync('node_modules/nuxt')
if (canBuild && (!builtAt || SOURCES.some(s => newestMtime(resolve(root, s)) > builtAt))) {
  log(builtAt ? 'sources changed since the last build: building…' : 'no build yet: building (about 20 s)…')
  const r = spawnSync(process.execPath, [resolve('node_modules/nuxt/bin/nuxt.mjs'), 'build'], {
    stdio: 'inherit', env: { ...process.env, NUXT_TELEMETRY_DISABLED: '1' },
  })
  if (r.status !== 0) process.exit(r.status ?? 1)
}

if (!existsSync('.output/server/index.mjs')) {
  console.error('[start] .output/server/index.mjs is missing: run `npm install` (which installs nuxt) and `npm run build`.')
  process.exit(1)
}

// 3. Redis: REDIS_URL/REDIS_HOST set → use it; else 127.0.0.1:REDIS_PORT (6379) if it answers;
//    else start redis-server there.
function redisAnswers(host, port) {
  return new Promise((done) => {
    const s = connect({ host, port })
    const finish = (ok) => {
      s.destroy()
      done(ok)
    }
    s.setTimeout(1000, () => finish(false))
    s.once('error', () => finish(false))
    s.once('connect', () => s.write('PING\r\n'))
    // +PONG, or -NOAUTH when it wants a password: either way a Redis is there.
    s.once('data', d => finish(/^(\+PONG|-NOAUTH)/.test(d.toString())))
  })
}

let redisChild
const configured = process.env.REDIS_URL || process.env.REDIS_HOST
const localPort = Number(process.env.REDIS_PORT || 6379)
if (!configured && !(await redisAnswers('127.0.0.1', localPort))) {
  const which = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' })
  if (which.status !== 0) {
    console.error('[start] No Redis answers on 127.0.0.1:6379 and redis-server is not installed.\n'
      + '  Install one:  apt-get install redis-server  |  brew install redis  |  docker compose up -d redis\n'
      + '  or point REDIS_URL (or REDIS_HOST/REDIS_PORT) in .env at an existing Redis.')
    process.exit(1)
  }
  const dir = resolve('data/redis')
  mkdirSync(dir, { recursive: true })
  log(`starting redis-server on 127.0.0.1:${localPort} (data in ${dir}, AOF on)`)
  redisChild = spawn('redis-server', ['--port', String(localPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: ['ignore', 'ignore', 'inherit'] })
  const until = Date.now() + 10_000
  while (!(await redisAnswers('127.0.0.1', localPort))) {
    if (redisChild.exitCode !== null || Date.now() > until) {
      console.error(`[start] redis-server did not come up (is port ${localPort} taken by something else?)`)
      process.exit(1)
    }
    await new Promise(r => setTimeout(r, 100))
  }
}

// 4. The server itself; signals go to it, and Redis (if ours) stops after it.
const server = spawn(process.execPath, [...serverNodeFlags(), resolve('.output/server/index.mjs')], { stdio: 'inherit', env: process.env })
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => server.kill(sig))
server.on('exit', (code, signal) => {
  const exit = () => process.exit(code ?? (signal ? 0 : 1))
  if (!redisChild || redisChild.exitCode !== null) return exit()
  redisChild.once('exit', exit)
  redisChild.kill('SIGTERM')
})
