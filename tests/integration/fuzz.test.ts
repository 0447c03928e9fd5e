import { randomInt } from 'node:crypto'
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { FakeGemini } from '../fixtures/gemini-upstream'
import { TestServer } from '../helpers/server'

// A seeded fuzz of the relay routes (/api/v1, /claude/v1, /api/gemini, /gemini): odd paths, methods,
// headers and bodies from a key holder (mostly) and anonymous callers. Whatever they send, the
// upstreams only ever see allow-listed calls, errors come in the route's protocol shape, nothing is
// a 500, and the process stays up without logging stack traces. Replay a run with FUZZ_SEED=<seed>.

const SEED = Number(process.env.FUZZ_SEED) || randomInt(1, 2 ** 31)
const COUNT = 600
const SLOW_MS = 10_000

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number) {
  let s = seed >>> 0
  const next = () => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number) => Math.floor(next() * n)
  return { chance: (p: number) => next() < p, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! }
}
type Rng = ReturnType<typeof prng>

/** UTF-8 bytes as a latin1 string: node:http then puts the raw bytes on the wire. */
const bytes = (s: string) => Buffer.from(s, 'utf8').toString('latin1')

const TRICKS = [
  '..', '.', '%2E%2E', '%2e%2e', '.%2E', '%2F', '%2f', '..%2F', '..%2f', '%2E%2E%2F', '..%2F..%2F', '%5C', '..%5C', '%00', 'a%00b',
  '%E0', '%C0%AF', '%252F', '..%252F', '%25', '%2525', ';', ';x=1', '%3B', ':', '%3A', '%3F', '%23', '~', '*', '@', '$',
  encodeURIComponent('модель'), encodeURIComponent('😀'), encodeURIComponent('\u202E'), '%ED%A0%80', '%FF', 'A'.repeat(300),
]
const CLAUDE_PARTS = ['messages', 'count_tokens', 'messages/count_tokens', 'models', 'key-info', 'me', 'usage', 'v1', 'complete', 'files', 'batches', 'admin']
const GEMINI_PARTS = ['v1beta', 'v1', 'v1alpha', 'models', 'files', 'tunedModels', 'cachedContents', 'operations', 'gemini-2.5-pro', 'gemini-2.5-flash',
  'v1internal:loadCodeAssist', 'v1internal:generateContent', 'v1internal:onboardUser']
const RPCS = [':generateContent', ':streamGenerateContent', ':countTokens', ':batchGenerateContent', ':embedContent', ':foo', '%3AgenerateContent', ':generateContent:x', '']
const QUERY = ['beta=true', 'beta=false', 'alt=sse', 'alt=json', 'alt=media', 'pageSize=5', 'pageToken=abc', 'key=AIzaFAKE', '$fields=name', 'fields=*',
  'upload_protocol=raw', 'uploadType=media', '%00=1', 'a=%E0', 'x=%2F..%2F', 'beta=true&beta=true', `q=${'z'.repeat(2000)}`, '=', '&&']
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded',
  'Application/JSON', 'application/json;;;', 'application/xml', '*/*', '']

function segments(r: Rng, parts: string[]): string {
  // At least one segment: the bare prefixes (`/api/v1`, `/gemini`) are not relay routes.
  const n = 1 + r.int(4)
  const seps = ['/', '/', '/', '//', '/./']
  let p = ''
  for (let i = 0; i < n; i++) p += r.pick(seps) + (r.chance(0.5) ? r.pick(parts) : r.chance(0.9) ? r.pick(TRICKS) : 'x'.repeat(1000 + r.int(4000)))
  return p
}

/** A model id, mostly close to a real one. */
function modelish(r: Rng): string {
  const real = r.pick(['gemini-2.5-pro', 'gemini-2.5-flash', 'gemini-9-unknown'])
  if (r.chance(0.45)) return real
  switch (r.int(6)) {
    case 0: return r.pick(TRICKS)
    case 1: return `${r.pick(TRICKS)}${real}`
    case 2: return `${real}${r.pick(TRICKS)}`
    case 3: return `${r.pick(['..%2F', '..%2f', '%2E%2E%2F', '..%5C', '%2F..%2F'])}${r.pick(['files', 'tunedModels', '..%2Ffiles', 'models'])}`
    case 4: return `${real}${r.pick(['%2F', '%2f', '%252F', '/'])}${r.pick(['..', '%2E%2E'])}${r.pick(['%2F', '/'])}files`
    default: return 'm'.repeat(90 + r.int(30))
  }
}

interface Fuzzed { family: 'claude' | 'gemini', method: string, path: string, headers: Record<string, string | string[]>, body?: Buffer }

function fuzzPath(r: Rng, family: Fuzzed['family']): { path: string, method: string } {
  const prefix = family === 'claude' ? r.pick(['/api/v1', '/claude/v1']) : r.pick(['/api/gemini', '/gemini'])
  let path: string
  let method: string
  if (r.chance(0.25)) {
    path = prefix + segments(r, family === 'claude' ? CLAUDE_PARTS : GEMINI_PARTS)
    method = r.pick(METHODS)
  }
  else if (family === 'claude') {
    const base = r.pick(['/messages', '/messages/count_tokens', '/messages', '/models'])
    path = prefix + (r.chance(0.55) ? base : r.pick([`${base}/${r.pick(TRICKS)}`, `/${r.pick(TRICKS)}${base}`, `${base}${r.pick(TRICKS)}`, `${base}/..%2F..%2Fv1%2Ffiles`]))
    method = r.chance(0.8) ? (base === '/models' ? 'GET' : 'POST') : r.pick(METHODS)
  }
  else {
    const rpc = r.chance(0.25) ? '' : r.pick(RPCS)
    const model = r.chance(0.1) ? '' : `/${modelish(r)}`
    path = `${prefix}/${r.pick(['v1beta', 'v1beta', 'v1', 'v1alpha', '%76%31beta'])}/models${model}${rpc}`
    method = r.chance(0.8) ? (rpc && model ? 'POST' : 'GET') : r.pick(METHODS)
  }
  if (r.chance(0.3)) path += `?${Array.from({ length: 1 + r.int(3) }, () => r.pick(QUERY)).join('&')}`
  return { path, method }
}

function fuzzHeaders(r: Rng, family: Fuzzed['family'], key: string): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {}
  const credential = r.chance(0.85) ? key : r.pick(['', 'cr_' + '0'.repeat(64), 'cr_', 'AIzaSyFAKE', 'x'.repeat(3000), `${key} `, key.toUpperCase()])
  if (credential) {
    const where = family === 'claude' ? r.pick(['x-api-key', 'bearer']) : r.pick(['x-goog-api-key', 'x-api-key', 'bearer', 'query'])
    if (where === 'bearer') h.authorization = `Bearer ${credential}`
    else if (where !== 'query') h[where] = credential
    else h['x-fuzz-key-in-query'] = credential // moved into the query below
  }
  if (r.chance(0.8)) h['content-type'] = r.chance(0.75) ? 'application/json' : r.pick(CONTENT_TYPES)
  const extras: [string, () => string | string[]][] = [
    ['x-forwarded-for', () => r.pick(['1.2.3.4', '127.0.0.1, 10.0.0.1', 'unknown', '::1', 'x'.repeat(500)])],
    ['x-forwarded-proto', () => r.pick(['https', 'gopher', ''])],
    ['x-forwarded-host', () => r.pick(['evil.example', 'localhost:1', ''])],
    ['host', () => r.pick(['evil.example', '127.0.0.1:1', 'generativelanguage.googleapis.com', 'api.anthropic.com', 'h'.repeat(1000)])],
    ['anthropic-version', () => r.pick(['2023-06-01', '', '9999-99-99', bytes('ü')])],
    ['anthropic-beta', () => Array.from({ length: 1 + r.int(50) }, (_, i) => `beta-${i}`).join(',')],
    ['user-agent', () => r.pick(['claude-cli/2.0.0 (external, cli)', 'GeminiCLI/0.1.0', 'u'.repeat(8000), bytes('агент')])],
    ['accept', () => r.pick(['text/event-stream', 'application/json', '*/*', 'text/html'])],
    ['accept-encoding', () => r.pick(['gzip, br', 'identity', 'zstd', '*'])],
    ['x-goog-api-client', () => 'genai-js/1.0'],
    ['x-http-method-override', () => r.pick(['GET', 'DELETE'])],
    ['x-original-url', () => '/api/admin/users'],
    ['x-rewrite-url', () => '/v1beta/files'],
    ['cookie', () => `session=${'c'.repeat(200)}`],
    ['x-dup', () => ['a', 'b', 'c'.repeat(2000)]],
    ['content-type', () => [r.pick(CONTENT_TYPES), 'application/json']],
    ['x-api-key', () => [key, 'cr_other']],
    ['x-goog-api-key', () => ['AIzaFAKE', key]],
  ]
  for (let i = r.int(5); i > 0; i--) {
    const [name, value] = r.pick(extras)
    h[name] = value()
  }
  return h
}

const nest = (open: string, leaf: string, close: string, depth: number) => open.repeat(depth) + leaf + close.repeat(depth)
const ODD = [123, null, [], {}, '', true, 'x'.repeat(20_000), '../../v1/files', 'claude-sonnet-4-5\u0000', 'gemini-2.5-pro/../files', 1e308, -1, { $ref: '#' }]

function fuzzBody(r: Rng, family: Fuzzed['family']): Buffer | undefined {
  const claude = () => ({ model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] })
  const gemini = () => ({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] })
  switch (r.int(16)) {
    case 0: return undefined
    case 1: return Buffer.from(r.pick(['{', '{"model":', 'null', '[]', '"str"', '123', '', ' ', '{"a":1}{"b":2}', '\u0000', 'NaN', '{"model":"x",}', bytes('{"model":"ü"}')]), 'latin1')
    case 2: return Buffer.from(r.pick(['1e999999', '9'.repeat(5000), `{"max_tokens":${'9'.repeat(400)}}`, '{"model":1e400}', '-0', '{"stream":1e-400}']))
    case 3: return Buffer.from(nest('[', '1', ']', r.pick([1000, 20_000, 200_000])))
    case 4: return Buffer.from(nest('{"a":', '1', '}', r.pick([1000, 20_000, 100_000])))
    // Built as text: JSON.stringify itself overflows the stack at these depths.
    case 5: return Buffer.from(`{"model":"claude-sonnet-4-5","max_tokens":64,"contents":${nest('[', '"x"', ']', r.pick([100, 5000, 50_000]))},"messages":[{"role":"user","content":${nest('[', '"x"', ']', r.pick([100, 5000, 50_000]))}}]}`)
    case 6: return Buffer.from(JSON.stringify(Array.from({ length: 1 + r.int(1000) }, () => claude())))
    case 7: return Buffer.from(JSON.stringify({ ...claude(), messages: [{ role: 'user', content: 'y'.repeat(200_000 + r.int(300_000)) }] }))
    case 8: return Buffer.from(Array.from({ length: 64 + r.int(4000) }, () => String.fromCharCode(r.int(256))).join(''), 'latin1')
    default: {
      // Near-valid: each field odd one time in ten.
      const base: Record<string, unknown> = family === 'claude' ? claude() : gemini()
      if (r.chance(0.5)) base.stream = true
      for (const field of family === 'claude' ? ['model', 'stream', 'max_tokens', 'messages', 'system', '__proto__', 'metadata'] : ['model', 'contents', 'generationConfig', '__proto__', 'systemInstruction']) {
        // defineProperty: a plain `base.__proto__ = …` would set the prototype, not a field.
        if (r.chance(0.1)) Object.defineProperty(base, field, { value: r.pick(ODD), enumerable: true, writable: true, configurable: true })
      }
      return Buffer.from(JSON.stringify(base))
    }
  }
}

function fuzzRequest(r: Rng, keys: { claude: string, gemini: string }): Fuzzed {
  const family = r.chance(0.5) ? 'claude' : 'gemini'
  const { method, path: fuzzedPath } = fuzzPath(r, family)
  let path = fuzzedPath
  const headers = fuzzHeaders(r, family, keys[family])
  const inQuery = headers['x-fuzz-key-in-query']
  if (typeof inQuery === 'string') {
    delete headers['x-fuzz-key-in-query']
    path += `${path.includes('?') ? '&' : '?'}key=${encodeURIComponent(inQuery)}`
  }
  const body = method === 'GET' || method === 'HEAD' ? (r.chance(0.1) ? fuzzBody(r, family) : undefined) : fuzzBody(r, family)
  return { family, method, path, headers, body }
}

interface Answer { status: number, contentType: string, body: string, error?: string }

/** One request on its own connection, the path and headers exactly as given. */
function send(base: URL, f: Fuzzed): Promise<Answer> {
  return new Promise((resolve) => {
    // An explicit length: node:http sends a GET/DELETE/OPTIONS body with none, which then reads as a second request.
    const headers = f.body ? { ...f.headers, 'content-length': String(f.body.length) } : f.headers
    const req = request({ host: base.hostname, port: base.port, method: f.method, path: f.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', err => resolve({ status: res.statusCode ?? 0, contentType: '', body: '', error: err.message }))
    })
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${SLOW_MS} ms`)), SLOW_MS)
    req.on('close', () => clearTimeout(timer))
    req.on('error', err => resolve({ status: 0, contentType: '', body: '', error: err.message }))
    req.end(f.body)
  })
}

// What may reach the upstreams, whatever the client sent.
const ANTHROPIC_ALLOWED = /^\/v1\/messages(\/count_tokens)?(\?beta=true)?$/
const GOOGLE_MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/
const GOOGLE_QUERY = new Set(['alt', 'pageSize', 'pageToken'])

function googleAllowed(method: string, path: string): boolean {
  const [pathname = '', query = ''] = path.split(/\?(.*)/s)
  const m = /^\/(v1beta|v1)\/models(?:\/([^/:]+)(?::([A-Za-z]+))?)?$/.exec(pathname)
  if (!m) return false
  const [, , id, rpc] = m
  if (id !== undefined && !GOOGLE_MODEL_ID.test(id)) return false
  const ok = rpc === undefined ? method === 'GET' : method === 'POST' && ['generateContent', 'streamGenerateContent', 'countTokens'].includes(rpc) && id !== undefined
  if (!ok) return false
  for (const [name, value] of new URLSearchParams(query)) {
    if (!GOOGLE_QUERY.has(name) || (name === 'alt' && value !== 'sse')) return false
  }
  return true
}

/** Why this error answer is not in the route's protocol shape (null when it is). */
function shapeProblem(f: Fuzzed, a: Answer): string | null {
  if (!/^application\/json\b/.test(a.contentType)) return `content-type ${JSON.stringify(a.contentType)}`
  let body: { type?: unknown, error?: { type?: unknown, message?: unknown, code?: unknown, status?: unknown } }
  try {
    body = JSON.parse(a.body) as typeof body
  }
  catch {
    return 'body is not JSON'
  }
  const e = body?.error
  if (f.family === 'claude') {
    return body?.type === 'error' && typeof e?.type === 'string' && typeof e.message === 'string' && e.message.length > 0 ? null : 'not {"type":"error","error":{type,message}}'
  }
  return e?.code === a.status && typeof e.message === 'string' && e.message.length > 0 && typeof e.status === 'string' ? null : 'not {"error":{code,message,status}}'
}

const show = (f: Fuzzed) => `${f.method} ${f.path.length > 160 ? `${f.path.slice(0, 160)}…(${f.path.length})` : f.path}`
  + ` [${Object.keys(f.headers).join(',')}; body ${f.body?.length ?? '-'}]`
const STACK = /"stack":|\bat \S+ \([^)]*:\d+:\d+\)/
/** The route family a logged line is about (by its `path` field), or null. */
const familyOfLine = (line: string): Fuzzed['family'] | null =>
  /"path":"\/(api\/v1|claude)\//.test(line) ? 'claude' : /"path":"\/(api\/)?gemini\//.test(line) ? 'gemini' : null

describe(`relay fuzz (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  const anthropic = new FakeAnthropic()
  const google = new FakeGemini()
  let server: TestServer
  /** Problems found, by route family: upstream calls off the allow-list, 500s, wrong error shapes. */
  const found = { claude: { upstream: [] as string[], status500: [] as string[], shape: [] as string[] }, gemini: { upstream: [] as string[], status500: [] as string[], shape: [] as string[] } }
  const hangs: string[] = []
  const healthDuring: number[] = []
  const reached = { anthropic: 0, google: 0 }
  const tally = { claude: {} as Record<number, number>, gemini: {} as Record<number, number> }

  beforeAll(async () => {
    console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED})`)
    await Promise.all([anthropic.start(), google.start()])
    server = await new TestServer({ GEMINI_API_URL: google.url, POOL_WARM_CONNECTIONS: '0' }).start()
    await server.createConsoleAccount(anthropic.url)
    google.addApiKey('AIzaSy-fuzz-upstream-key')
    const { status } = await server.admin('POST', '/api/admin/gemini-accounts', { type: 'api-key', name: 'fuzz', apiKey: 'AIzaSy-fuzz-upstream-key' })
    expect(status).toBe(201)
    const keys = { claude: (await server.createKey({ name: 'fuzz' })).apiKey, gemini: (await server.createKey({ name: 'fuzz-gemini', permissions: 'gemini' })).apiKey }

    const r = prng(SEED)
    const base = new URL(server.url)
    for (let i = 0; i < COUNT; i++) {
      const f = fuzzRequest(r, keys)
      const seen = { anthropic: anthropic.requests.length, google: google.requests.length }
      const a = await send(base, f)
      const what = `#${i} ${show(f)} → ${a.status}${a.error ? ` (${a.error})` : ''}`
      for (const u of anthropic.requests.slice(seen.anthropic)) {
        if (!(u.method === 'POST' && ANTHROPIC_ALLOWED.test(u.path))) found[f.family].upstream.push(`Anthropic got ${u.method} ${u.path} from ${what}`)
      }
      for (const u of google.requests.slice(seen.google)) {
        if (!googleAllowed(u.method, u.path)) found[f.family].upstream.push(`Google got ${u.method} ${u.path} from ${what}`)
      }
      tally[f.family][a.status] = (tally[f.family][a.status] ?? 0) + 1
      if (a.status === 0 && /no answer within/.test(a.error ?? '')) hangs.push(what)
      if (a.status === 500) found[f.family].status500.push(`${what} ${a.body.slice(0, 120)}`)
      else if (a.status >= 400 && f.method !== 'HEAD') {
        const problem = shapeProblem(f, a)
        if (problem) found[f.family].shape.push(`${what}: ${problem} ${a.body.slice(0, 80)}`)
      }
      if (i % 100 === 99) healthDuring.push((await fetch(`${server.url}/health`)).status)
    }
    reached.anthropic = anthropic.requests.length
    reached.google = google.requests.length
    console.log(`fuzz answers by status: ${JSON.stringify(tally)}; upstream calls: ${JSON.stringify(reached)}`)
  }, 120_000)
  afterAll(async () => {
    await server?.stop()
    await Promise.all([anthropic.stop(), google.stop()])
  })

  it('reached both upstreams often enough to mean something', () => {
    // Seeds reach each upstream 19–50 times in 600 requests; 10 keeps random seeds from flaking.
    expect(reached.anthropic).toBeGreaterThanOrEqual(10)
    expect(reached.google).toBeGreaterThanOrEqual(10)
  })

  it.each(['claude', 'gemini'] as const)('%s routes: the upstream saw only allow-listed method + path + query', (family) => {
    expect(found[family].upstream).toEqual([])
  })

  it.each(['claude', 'gemini'] as const)('%s routes: no 500', (family) => {
    expect(found[family].status500).toEqual([])
  })

  it.each(['claude', 'gemini'] as const)('%s routes: every error is JSON in the protocol\'s shape', (family) => {
    expect(found[family].shape).toEqual([])
  })

  const stacks = (family: Fuzzed['family'] | null) =>
    server.output.split('\n').filter(l => STACK.test(l) && familyOfLine(l) === family).map(l => l.slice(0, 400))

  it.each(['claude', 'gemini'] as const)('%s routes: no stack trace in the server log', (family) => {
    expect(stacks(family)).toEqual([])
  })

  it('answered every request, stayed healthy and alive, and logged no other stack trace', async () => {
    expect(hangs).toEqual([])
    expect(healthDuring).toEqual([200, 200, 200, 200, 200, 200])
    expect((await fetch(`${server.url}/health`)).status).toBe(200)
    expect((server as unknown as { child: { exitCode: number | null } }).child.exitCode).toBeNull()
    expect(stacks(null)).toEqual([])
  })
})
