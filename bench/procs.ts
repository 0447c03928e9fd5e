// Child processes of the bench: a private redis-server, the fake upstream, SOCKS5 proxies and the built relay.
// Every child is registered so that exit, errors and Ctrl-C kill them all.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { serverNodeFlags } from '../scripts/server-flags.mjs'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import Redis from 'ioredis'
import { freePort, testSecrets } from '../tests/helpers/server'

export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  /** The last output lines (stdout and stderr), for error reports. */
  tail: string[]
  /** Output lines logged at warn level or above (pino JSON level ≥ 40). */
  warnLines: number
}

const children: Child[] = []
const tempDirs: string[] = []
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

function track(name: string, proc: ChildProcess): Child {
  proc.on('error', (err) => {
    console.error(`bench: ${name}: ${err.message}`)
  })
  if (!proc.pid) throw new Error(`${name}: could not spawn ${proc.spawnfile} (is it installed?)`)
  const child: Child = { name, proc, pid: proc.pid, tail: [], warnLines: 0 }
  const keep = (d: Buffer) => {
    const lines = d.toString('utf8').split('\n').filter(Boolean)
    child.warnLines += lines.filter(l => /"level":(4|5|6)0\b/.test(l)).length
    child.tail.push(...lines)
    if (child.tail.length > 200) child.tail.splice(0, child.tail.length - 200)
  }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  children.push(child)
  return child
}

/**
 * Pin a process and all its threads to `cpus` (a taskset list such as "1" or "0-1"); threads it
 * starts later inherit it. Linux only; throws when taskset is missing.
 */
export function pinCpus(pid: number, cpus: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' })
}

const alive = (c: Child) => c.proc.exitCode === null && c.proc.signalCode === null

/** Stop one child: SIGTERM (lets node write a --cpu-prof profile), SIGKILL after `graceMs`. */
export async function stopChild(c: Child, graceMs = 5000): Promise<void> {
  if (alive(c)) {
    const exited = new Promise(r => c.proc.once('exit', r))
    c.proc.kill('SIGTERM')
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  const i = children.indexOf(c)
  if (i >= 0) children.splice(i, 1)
}

/** Stop every child still running (newest first) and remove temp dirs. */
export async function stopAll(): Promise<void> {
  for (const c of [...children].reverse()) await stopChild(c)
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

/** Last resort from a synchronous 'exit' handler: SIGKILL whatever is left. */
export function killAllSync(): void {
  for (const c of children) if (alive(c)) c.proc.kill('SIGKILL')
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true })
}

const recentlyChanged = (p: string) => existsSync(p) && Date.now() - statSync(p).mtimeMs < 60_000

/**
 * `npx nuxt build` when `.output/server/index.mjs` is missing (bounded to 5 minutes). When
 * `.nuxt`/`.output` changed in the last minute, another build (e.g. a test run's global setup) is
 * probably writing `.output` right now: wait up to 2 minutes for it instead of racing it.
 */
export async function ensureBuild(): Promise<void> {
  const entry = resolve('.output/server/index.mjs')
  if (existsSync(entry)) return
  if (['.nuxt', '.nuxt/dist', '.output'].some(recentlyChanged)) {
    console.log('bench: .output is missing but a build seems to be running; waiting for it …')
    for (let until = Date.now() + 120_000; Date.now() < until && !existsSync(entry);) await sleep(500)
    // Give the other build a moment to finish writing the chunks next to the entry.
    if (existsSync(entry)) return void await sleep(3000)
  }
  console.log('bench: .output is missing, running `npx nuxt build` …')
  execFileSync('npx', ['nuxt', 'build'], { stdio: 'inherit', timeout: 300_000, env: { ...process.env, NUXT_TELEMETRY_DISABLED: '1' } })
}

/** A private redis-server on a free port; verified to be OUR process (INFO process_id). */
export async function startRedis(): Promise<{ child: Child, url: string, port: number }> {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const child = track('redis', proc)
  const url = `redis://127.0.0.1:${port}`
  const until = Date.now() + 10_000
  while (Date.now() < until) {
    if (!alive(child)) throw new Error(`redis-server exited:\n${child.tail.join('\n')}`)
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => { /* not up yet: retried below */ })
    try {
      await probe.connect()
      if (await probe.ping() === 'PONG') {
        const pid = /process_id:(\d+)/.exec(await probe.info('server'))?.[1]
        if (Number(pid) !== child.pid) throw new Error(`port ${port} is answered by a foreign Redis (pid ${pid}, ours ${child.pid})`)
        return { child, url, port }
      }
    }
    catch (err) {
      if ((err as Error).message.includes('foreign')) throw err
    }
    finally {
      probe.disconnect()
    }
    await sleep(50)
  }
  throw new Error(`redis-server did not answer PING on ${port}:\n${child.tail.join('\n')}`)
}

/**
 * A bench script under node + tsx in its own process (so its pid is the one doing the work);
 * resolves with the URL it prints as `<marker>=<url>` once listening.
 */
async function startScript(name: string, file: string, marker: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<{ child: Child, url: string }> {
  const proc = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', resolve(file)], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const child = track(name, proc)
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${name} did not start:\n${child.tail.join('\n')}`)), 20_000)
    proc.stdout!.on('data', (d: Buffer) => {
      const m = new RegExp(`${marker}=(\\S+)`).exec(d.toString('utf8'))
      if (m) {
        clearTimeout(timer)
        res(m[1]!)
      }
    })
    proc.once('exit', code => rej(new Error(`${name} exited (${code}):\n${child.tail.join('\n')}`)))
  })
  return { child, url }
}

/** The fake upstream (bench/upstream.ts); `env` sets its behaviour (BENCH_DELTAS, BENCH_UPSTREAM_TLS, … — see there). */
export function startUpstream(env: Record<string, string> = {}): Promise<{ child: Child, url: string }> {
  return startScript('upstream', 'bench/upstream.ts', 'UPSTREAM_URL', env)
}

/**
 * The bare Node proxy to `upstreamUrl` (bench/floor.ts): the floor the relay's CPU per request is
 * read against (`env`: FLOOR_HTTP2, NODE_EXTRA_CA_CERTS — see there). It runs with the relay's Node
 * flags, so the two differ only in what they do.
 */
export function startFloor(upstreamUrl: string, env: Record<string, string> = {}): Promise<{ child: Child, url: string }> {
  return startScript('floor', 'bench/floor.ts', 'FLOOR_URL', { UPSTREAM_URL: upstreamUrl, ...env }, serverNodeFlags(process.env))
}

/** A SOCKS5 proxy (bench/socks5.ts) that holds every new tunnel `delayMs` before answering it. */
export function startSocks5(delayMs = 0): Promise<{ child: Child, url: string }> {
  return startScript(delayMs ? `socks5 +${delayMs} ms` : 'socks5', 'bench/socks5.ts', 'SOCKS_URL', { BENCH_SOCKS_DELAY_MS: String(delayMs) })
}

/** BENCH_RELAY_ENV 'A=1,B=2' → { A: '1', B: '2' }: variables added to the relay's environment. */
export function benchRelayEnv(spec = process.env.BENCH_RELAY_ENV ?? ''): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of spec.split(',').map(s => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=')
    if (eq < 1) throw new Error(`BENCH_RELAY_ENV must be NAME=value pairs separated by commas (got "${pair}")`)
    out[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return out
}

export const ADMIN = { username: 'bench-admin', password: randomBytes(12).toString('hex') }

/**
 * The built relay with the private Redis; `profile` adds --cpu-prof into bench/results. `prefix`
 * (REDIS_KEY_PREFIX) keeps relays sharing one Redis apart; `env` adds or overrides variables.
 */
export async function startRelay(redisUrl: string, profile: boolean, opts: { prefix?: string, env?: Record<string, string> } = {}): Promise<{ child: Child, url: string }> {
  const port = await freePort()
  const cwd = mkdtempSync(join(tmpdir(), 'crs-bench-'))
  tempDirs.push(cwd)
  // Started as `npm start` starts it (the same Node flags), so RSS and CPU are production's.
  const args = [...serverNodeFlags({ ...process.env, ...opts.env }), resolve('.output/server/index.mjs')]
  if (profile) {
    mkdirSync(resolve('bench/results'), { recursive: true })
    args.unshift('--cpu-prof', '--cpu-prof-dir', resolve('bench/results'))
  }
  const proc = spawn(process.execPath, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '', CRS_SKIP_DOTENV: '1', HOST: '127.0.0.1', PORT: String(port),
      REDIS_URL: redisUrl, REDIS_KEY_PREFIX: opts.prefix ?? 'bench:', ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password,
      ...testSecrets(), LOG_LEVEL: process.env.BENCH_LOG_LEVEL || 'info', ...opts.env,
    },
  })
  const child = track('relay', proc)
  const url = `http://127.0.0.1:${port}`
  const until = Date.now() + 20_000
  while (Date.now() < until) {
    if (!alive(child)) throw new Error(`relay exited (${proc.exitCode ?? proc.signalCode}):\n${child.tail.join('\n')}`)
    try {
      // Ready = /health answers AND the admin login works (the admin is created after Redis connects).
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) })
      if (health.ok && await adminToken(url).catch(() => null) && alive(child)) return { child, url }
    }
    catch { /* not listening yet */ }
    await sleep(100)
  }
  throw new Error(`relay did not come up on ${port}:\n${child.tail.join('\n')}`)
}

/** Log in as the bench admin; returns the bearer token. */
export async function adminToken(relayUrl: string): Promise<string> {
  const res = await fetch(`${relayUrl}/api/admin/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN), signal: AbortSignal.timeout(5000),
  })
  if (!res.ok) throw new Error(`admin login failed: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { token: string }).token
}

/** An admin API caller for a relay (logged in once); throws unless the status is `expect`. */
export async function adminApi(relayUrl: string) {
  const token = await adminToken(relayUrl)
  return async <T>(method: string, path: string, body?: unknown, expect = method === 'POST' ? 201 : 200): Promise<T> => {
    const res = await fetch(`${relayUrl}${path}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(5000),
      headers: { 'authorization': `Bearer ${token}`, 'content-type': 'application/json' },
    })
    if (res.status !== expect) throw new Error(`${method} ${path} failed: ${res.status} ${await res.text()}`)
    return await res.json() as T
  }
}

/**
 * Create the bench's API keys and a Console account whose apiUrl is the fake upstream. With
 * `socksUrl`, also a dedicated account through that SOCKS5 proxy and a key bound to it.
 */
export async function provision(relayUrl: string, upstreamUrl: string, socksUrl?: string): Promise<{ apiKey: string, limitedKey: string, socksKey: string | null }> {
  const call = await adminApi(relayUrl)
  await call('POST', '/api/admin/claude-accounts', { type: 'console', name: 'bench upstream', apiUrl: upstreamUrl, apiKey: 'sk-ant-api03-bench-upstream-key' })
  const { apiKey } = await call<{ apiKey: string }>('POST', '/api/admin/api-keys', { name: 'bench key' })
  if (!apiKey?.startsWith('cr_')) throw new Error(`unexpected api key shape: ${String(apiKey)}`)
  // Every limit on, none ever reached: what admission and limit bookkeeping cost per request.
  const { apiKey: limitedKey } = await call<{ apiKey: string }>('POST', '/api/admin/api-keys', {
    name: 'bench key, every limit on', activationDays: 365, rateLimitWindow: 60, rateLimitRequests: 1e9,
    rateLimitTokens: 1e12, rateLimitCost: 1e6, concurrencyLimit: 10_000, dailyCostLimit: 1e6, weeklyCostLimit: 1e6,
    totalCostLimit: 1e7, tokenLimit: 1e13, allowedModels: ['claude-*'], allowedClients: [], permissions: 'claude',
  })
  if (!socksUrl) return { apiKey, limitedKey, socksKey: null }
  // Dedicated: the plain key's requests never land on it, the socks key's always do.
  const { id } = await call<{ id: string }>('POST', '/api/admin/claude-accounts', {
    type: 'console', name: 'bench upstream via socks5', apiUrl: upstreamUrl, apiKey: 'sk-ant-api03-bench-socks-key', proxy: socksUrl, accountType: 'dedicated',
  })
  const { apiKey: socksKey } = await call<{ apiKey: string }>('POST', '/api/admin/api-keys', { name: 'bench key, socks5 account', claudeAccountId: id })
  return { apiKey, limitedKey, socksKey }
}
