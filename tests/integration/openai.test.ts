import { randomBytes } from 'node:crypto'
import OpenAI from 'openai'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { FAKE_PROJECT, FakeGemini, geminiText } from '../fixtures/gemini-upstream'
import { pollUntil } from '../helpers/client'
import { TestServer } from '../helpers/server'

// OpenAI chat completions end to end: the official `openai` SDK against the built relay, relayed
// into a Claude Console account (fake Anthropic) and Gemini accounts (fake Google: the API with a
// key, and Code Assist with an OAuth token), with real Redis. What each upstream received is
// checked, and what the key was charged.

const CLAUDE = 'claude-sonnet-4-5-20250929'
const GEMINI = 'gemini-2.5-flash'
const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='
const WEATHER_TOOL = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
}

interface Totals { requests: number, inputTokens: number, outputTokens: number, cacheRead: number }

const secret = (label: string) => `${label}-${randomBytes(9).toString('hex')}`
// What an upstream received, as parsed JSON (loosely typed: the tests check its shape).
const bodyOf = (r: { body: string }) => JSON.parse(r.body)

describe('OpenAI chat completions', () => {
  const claude = new FakeAnthropic()
  const google = new FakeGemini({ acceptFakeAccessTokens: true })
  let server: TestServer
  let claudeKey: string
  let geminiKey: string
  let oauthKey: string
  let claudeKeyId: string
  const client = (apiKey: string, base = '/openai/v1') => new OpenAI({ apiKey, baseURL: `${server.url}${base}`, maxRetries: 0 })

  beforeAll(async () => {
    await Promise.all([claude.start(), google.start()])
    server = await new TestServer({ GEMINI_API_URL: google.url, GEMINI_CODE_ASSIST_URL: google.url, POOL_WARM_CONNECTIONS: '0', OAUTH_REFRESH_INTERVAL_SECONDS: '0' }).start()
    const { id: claudeAccount } = await server.createConsoleAccount(claude.url)
    const apiKey = secret('AIzaSy')
    google.addApiKey(apiKey)
    const gemini = await server.admin<{ id: string }>('POST', '/api/admin/gemini-accounts', { type: 'api-key', name: 'gemini api', apiKey })
    const accessToken = secret('ya29.at')
    google.addAccessToken(accessToken)
    const oauth = await server.admin<{ id: string }>('POST', '/api/admin/gemini-accounts', {
      type: 'oauth', name: 'gemini oauth', accessToken, refreshToken: secret('1//rt'), expiresAt: Date.now() + 3600_000, projectId: FAKE_PROJECT, accountType: 'dedicated',
    })
    const c = await server.createKey({ name: 'openai claude', claudeAccountId: claudeAccount })
    claudeKey = c.apiKey
    claudeKeyId = c.id
    geminiKey = (await server.createKey({ name: 'openai gemini', geminiAccountId: gemini.body.id })).apiKey
    oauthKey = (await server.createKey({ name: 'openai gemini oauth', geminiAccountId: oauth.body.id })).apiKey
  })
  afterAll(async () => {
    await server?.stop()
    await Promise.all([claude.stop(), google.stop()])
  })
  afterEach(async () => {
    claude.reset()
    google.reset()
    await server.resetAccountStates()
  })

  describe('into a Claude account', () => {
    it('answers a plain request: the system message and turns as Anthropic takes them, a default max_tokens, the account\'s key', async () => {
      const res = await client(claudeKey).chat.completions.create({
        model: CLAUDE, messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }],
      })
      expect(res.object).toBe('chat.completion')
      expect(res.id).toMatch(/^chatcmpl-/)
      expect(res.model).toBe(CLAUDE)
      expect(res.choices[0]!.message.content).toBe('word0 word1 word2 ')
      expect(res.choices[0]!.finish_reason).toBe('stop')
      expect(res.usage).toMatchObject({ prompt_tokens: 25, completion_tokens: 17, total_tokens: 42 })
      const sent = claude.last()
      expect(sent.path).toBe('/v1/messages')
      expect(sent.headers['x-api-key']).toBe('sk-ant-api03-test-upstream-key')
      expect(sent.headers.authorization).toBeUndefined()
      expect(sent.headers['anthropic-version']).toBe('2023-06-01')
      const body = bodyOf(sent)
      expect(JSON.stringify(body.system)).toContain('Be terse.')
      expect(body.messages).toHaveLength(1)
      expect(body.messages[0].role).toBe('user')
      expect(JSON.stringify(body.messages[0].content)).toContain('Hi')
      expect(body.max_tokens).toBe(8192)
      expect(body.model).toBe(CLAUDE)
    })

    it('streams chunks with one id, the role first, finish_reason last, then usage (cached tokens included) before [DONE] — and records the upstream\'s usage', async () => {
      claude.behaviour = { ...claude.behaviour, usage: { input_tokens: 30, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 100 } }
      const before = await usage(claudeKeyId)
      const stream = await client(claudeKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } })
      const chunks = []
      for await (const c of stream) chunks.push(c)
      expect(new Set(chunks.map(c => c.id)).size).toBe(1)
      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant')
      expect(chunks.map(c => c.choices[0]?.delta.content ?? '').join('')).toBe('word0 word1 word2 ')
      const finishes = chunks.flatMap(c => c.choices.map(ch => ch.finish_reason)).filter(Boolean)
      expect(finishes).toEqual(['stop'])
      const last = chunks.at(-1)!
      expect(last.choices).toEqual([])
      expect(last.usage).toMatchObject({ prompt_tokens: 130, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 100 } })
      expect(bodyOf(claude.last()).stream).toBe(true)
      const after = await pollUntil(() => usage(claudeKeyId), u => u.total.requests > before.total.requests)
      expect(after.total.requests - before.total.requests).toBe(1)
      expect(after.total.inputTokens - before.total.inputTokens).toBe(30)
      expect(after.total.cacheRead - before.total.cacheRead).toBe(100)
      expect(after.total.outputTokens - before.total.outputTokens).toBe(9)
      expect(Object.keys(after.total.models)).toContain(CLAUDE)
    })

    it('round-trips a tool call, plain and streamed (the arguments assembled from fragments)', async () => {
      claude.behaviour = { ...claude.behaviour, toolUse: { id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } } }
      const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }]
      const res = await client(claudeKey).chat.completions.create({ model: CLAUDE, messages, tools: [WEATHER_TOOL], tool_choice: 'auto' })
      const call = res.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall
      expect(res.choices[0]!.finish_reason).toBe('tool_calls')
      expect(call.id).toBe('toolu_01')
      expect(call.function.name).toBe('get_weather')
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' })
      const sentTools = bodyOf(claude.last()).tools
      expect(sentTools[0]).toMatchObject({ name: 'get_weather', input_schema: WEATHER_TOOL.function.parameters })

      const stream = await client(claudeKey).chat.completions.create({ model: CLAUDE, messages, tools: [WEATHER_TOOL], stream: true })
      let args = ''
      let name = ''
      let finish: string | null = null
      for await (const c of stream) {
        for (const tc of c.choices[0]?.delta.tool_calls ?? []) {
          name += tc.function?.name ?? ''
          args += tc.function?.arguments ?? ''
        }
        finish = c.choices[0]?.finish_reason ?? finish
      }
      expect(name).toBe('get_weather')
      expect(JSON.parse(args)).toEqual({ city: 'Paris' })
      expect(finish).toBe('tool_calls')

      claude.behaviour = { ...claude.behaviour, toolUse: undefined }
      await client(claudeKey).chat.completions.create({
        model: CLAUDE, tools: [WEATHER_TOOL],
        messages: [...messages, res.choices[0]!.message as OpenAI.ChatCompletionMessageParam, { role: 'tool', tool_call_id: 'toolu_01', content: '18 °C, sunny' }],
      })
      const turns = bodyOf(claude.last()).messages
      expect(turns.map((t: { role: string }) => t.role)).toEqual(['user', 'assistant', 'user'])
      expect(turns[1].content).toContainEqual(expect.objectContaining({ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }))
      expect(turns[2].content).toContainEqual(expect.objectContaining({ type: 'tool_result', tool_use_id: 'toolu_01' }))
      expect(JSON.stringify(turns[2].content)).toContain('18 °C, sunny')
    })

    it('sends an image part as an inline image block', async () => {
      await client(claudeKey).chat.completions.create({
        model: CLAUDE, messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } }] }],
      })
      const content = bodyOf(claude.last()).messages[0].content
      expect(content).toContainEqual({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } })
      expect(content).toContainEqual(expect.objectContaining({ type: 'text', text: 'What is this?' }))
    })

    it('answers the upstream\'s own refusal in OpenAI\'s shape with its status', async () => {
      claude.behaviour = { ...claude.behaviour, mode: 'error', error: { status: 400, type: 'invalid_request_error', message: 'messages: text content blocks must be non-empty' } }
      const err = await client(claudeKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(err).toBeInstanceOf(OpenAI.BadRequestError)
      expect(err.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('text content blocks must be non-empty') })
    })

    it('answers an account\'s rate limit as a 429 in OpenAI\'s shape with retry-after', async () => {
      claude.behaviour = { ...claude.behaviour, mode: 'error429' }
      const res = await fetch(`${server.url}/openai/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'authorization': `Bearer ${claudeKey}` },
        body: JSON.stringify({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }),
      })
      expect(res.status).toBe(429)
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/)
      const body = await res.json() as { error: { type: string, message: string } }
      expect(body.error.type).toBe('rate_limit_error')
    })

    it('fails over: an overloaded account (529) is passed over before a byte reached the client, the next one answers', async () => {
      const overloaded = new FakeAnthropic()
      await overloaded.start()
      overloaded.behaviour = { ...overloaded.behaviour, mode: 'error', error: { status: 529, type: 'overloaded_error', message: 'Overloaded' } }
      const first = await server.createConsoleAccount(overloaded.url, { name: 'overloaded', priority: 1 })
      const second = await server.createConsoleAccount(claude.url, { name: 'healthy', priority: 2 })
      try {
        const { apiKey } = await server.createKey({ name: 'pool', permissions: 'claude' })
        const res = await client(apiKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] })
        expect(res.choices[0]!.message.content).toBe('word0 word1 word2 ')
        expect(overloaded.requests).toHaveLength(1)
        expect(claude.requests).toHaveLength(1)
      }
      finally {
        for (const { id } of [first, second]) await server.admin('DELETE', `/api/admin/claude-accounts/${id}`)
        await overloaded.stop()
      }
    })

    it('keeps the key\'s limits: past its request limit the answer is a 429 in OpenAI\'s shape with retry-after', async () => {
      const { apiKey } = await server.createKey({ name: 'one a minute', claudeAccountId: await claudeAccountOf(claudeKeyId), rateLimitWindow: 1, rateLimitRequests: 1 })
      await client(apiKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] })
      const limited = await client(apiKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(limited).toBeInstanceOf(OpenAI.RateLimitError)
      expect(limited.error.type).toBe('rate_limit_error')
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(claude.requests).toHaveLength(1)
    })

    it('ends a stream the upstream cut off with an OpenAI error event and [DONE]', async () => {
      // A pause between events lets each write leave the fake before it destroys the socket.
      claude.behaviour = { ...claude.behaviour, mode: 'reset', resetAfter: 4, delayMs: 20 }
      const res = await fetch(`${server.url}/openai/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'authorization': `Bearer ${claudeKey}` },
        body: JSON.stringify({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }], stream: true }),
      })
      expect(res.status).toBe(200)
      const text = await res.text()
      const events = text.split('\n\n').filter(Boolean)
      expect(events.at(-1)).toBe('data: [DONE]')
      expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({ error: { message: expect.any(String), type: expect.any(String) } })
    })
  })

  describe('into Gemini accounts', () => {
    it('answers a plain request through the API with the account\'s key: the model in the path, the turns as contents', async () => {
      const res = await client(geminiKey).chat.completions.create({
        model: GEMINI, messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }], max_tokens: 100, temperature: 0.3,
      })
      expect(res.choices[0]!.message.content).toBe(geminiText(google.behaviour))
      expect(res.choices[0]!.finish_reason).toBe('stop')
      expect(res.usage!.prompt_tokens).toBeGreaterThan(0)
      const sent = google.requests.at(-1)!
      expect(sent.path).toBe(`/v1beta/models/${GEMINI}:generateContent`)
      const body = JSON.parse(sent.raw)
      expect(JSON.stringify(body.systemInstruction)).toContain('Be terse.')
      expect(body.contents).toEqual([{ role: 'user', parts: [{ text: 'Hi' }] }])
      expect(body.generationConfig).toMatchObject({ maxOutputTokens: 100, temperature: 0.3 })
    })

    it('streams through the API and through Code Assist (its wrapped answers read through)', async () => {
      for (const key of [geminiKey, oauthKey]) {
        const stream = await client(key).chat.completions.create({ model: GEMINI, messages: [{ role: 'user', content: 'Hi' }], stream: true, stream_options: { include_usage: true } })
        const chunks = []
        for await (const c of stream) chunks.push(c)
        expect(chunks.map(c => c.choices[0]?.delta.content ?? '').join('')).toBe(geminiText(google.behaviour))
        expect(chunks.flatMap(c => c.choices.map(ch => ch.finish_reason)).filter(Boolean)).toEqual(['stop'])
        expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0)
      }
      const paths = google.requests.map(r => r.path)
      expect(paths).toContain(`/v1beta/models/${GEMINI}:streamGenerateContent?alt=sse`)
      expect(paths).toContain('/v1internal:streamGenerateContent?alt=sse')
    })

    it('round-trips a function call and sends an image inline', async () => {
      google.behaviour = { ...google.behaviour, functionCall: { name: 'get_weather', args: { city: 'Paris' } } }
      const res = await client(geminiKey).chat.completions.create({ model: GEMINI, messages: [{ role: 'user', content: 'Weather?' }], tools: [WEATHER_TOOL] })
      const call = res.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall
      expect(res.choices[0]!.finish_reason).toBe('tool_calls')
      expect(call.function.name).toBe('get_weather')
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' })
      google.behaviour = { ...google.behaviour, functionCall: undefined }
      await client(geminiKey).chat.completions.create({
        model: GEMINI, tools: [WEATHER_TOOL],
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } }] },
          res.choices[0]!.message as OpenAI.ChatCompletionMessageParam,
          { role: 'tool', tool_call_id: call.id, content: '{"temp":18}' },
        ],
      })
      const contents = JSON.parse(google.requests.at(-1)!.raw).contents
      expect(contents[0].parts).toContainEqual({ inlineData: { mimeType: 'image/png', data: PNG_1PX } })
      expect(contents[1].parts).toContainEqual(expect.objectContaining({ functionCall: expect.objectContaining({ name: 'get_weather', args: { city: 'Paris' } }) }))
      expect(JSON.stringify(contents[2].parts)).toContain('"functionResponse"')
      expect(JSON.stringify(contents[2].parts)).toContain('get_weather')
    })
  })

  describe('refusals in OpenAI\'s shape', () => {
    it('a bad key is a 401, an unknown model a 404 model_not_found, n > 1 a 400 — and no upstream hears of them', async () => {
      const bad = await client('cr_not-a-real-key').chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(bad).toBeInstanceOf(OpenAI.AuthenticationError)
      const unknown = await client(claudeKey).chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(unknown).toBeInstanceOf(OpenAI.NotFoundError)
      expect(unknown.code).toBe('model_not_found')
      const many = await client(claudeKey).chat.completions.create({ model: CLAUDE, n: 2, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(many).toBeInstanceOf(OpenAI.BadRequestError)
      expect(many.param).toBe('n')
      const pinned = await client(claudeKey, '/openai/claude/v1').chat.completions.create({ model: GEMINI, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(pinned).toBeInstanceOf(OpenAI.NotFoundError)
      expect(claude.requests).toHaveLength(0)
      expect(google.requests).toHaveLength(0)
    })

    it('a Claude subscription (Claude Code only) never serves a translated request: 503 saying a Console account is needed, and the upstream hears nothing; switched to any client, it serves', async () => {
      const sub = await server.admin<{ id: string, clients: string }>('POST', '/api/admin/claude-accounts', {
        type: 'oauth', name: 'max-subscription', refreshToken: secret('sk-ant-ort01'), accessToken: secret('sk-ant-oat01'), expiresAt: Date.now() + 3600_000, apiUrl: claude.url, accountType: 'dedicated',
      })
      expect(sub.body.clients).toBe('claude-code')
      const { apiKey } = await server.createKey({ name: 'subscription only', claudeAccountId: sub.body.id })
      const refused = await client(apiKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(refused).toBeInstanceOf(OpenAI.InternalServerError)
      expect(refused.status).toBe(503)
      expect(refused.error.message).toMatch(/Console/)
      expect(claude.requests).toHaveLength(0)
      expect((await server.admin('PUT', `/api/admin/claude-accounts/${sub.body.id}`, { clients: 'any' })).status).toBe(200)
      const served = await pollUntil(
        () => client(apiKey).chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e),
        r => !(r instanceof Error), 3000)
      expect(served.choices[0].message.content).toBe('word0 word1 word2 ')
      expect(claude.last().headers.authorization).toMatch(/^Bearer sk-ant-oat01-/)
      await server.admin('DELETE', `/api/admin/claude-accounts/${sub.body.id}`)
    })

    it('a key limited to Claude may not reach Gemini (403), and its model list holds Claude models only', async () => {
      const { apiKey } = await server.createKey({ name: 'claude only', permissions: 'claude' })
      const denied = await client(apiKey).chat.completions.create({ model: GEMINI, messages: [{ role: 'user', content: 'Hi' }] }).catch(e => e)
      expect(denied).toBeInstanceOf(OpenAI.PermissionDeniedError)
      const ids = (await client(apiKey).models.list()).data.map(m => m.id)
      expect(ids).toContain(CLAUDE)
      expect(ids.some(id => id.startsWith('gemini-'))).toBe(false)
      const all = (await client(claudeKey).models.list()).data.map(m => m.id)
      expect(all).toContain(GEMINI)
      expect((await client(claudeKey).models.retrieve(CLAUDE)).owned_by).toBe('anthropic')
      expect(await client(apiKey).models.retrieve(GEMINI).catch(e => e)).toBeInstanceOf(OpenAI.NotFoundError)
    })

    it('/api/v1/chat/completions is the same endpoint; an unknown /openai path is OpenAI\'s 404', async () => {
      const res = await client(claudeKey, '/api/v1').chat.completions.create({ model: CLAUDE, messages: [{ role: 'user', content: 'Hi' }] })
      expect(res.choices[0]!.message.content).toBe('word0 word1 word2 ')
      const other = await fetch(`${server.url}/openai/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${claudeKey}` } })
      expect(other.status).toBe(404)
      expect(await other.json()).toMatchObject({ error: { type: 'invalid_request_error' } })
    })
  })

  async function claudeAccountOf(keyId: string): Promise<string> {
    return (await server.admin<{ claudeAccountId: string }>('GET', `/api/admin/api-keys/${keyId}`)).body.claudeAccountId
  }

  async function usage(id: string) {
    return (await server.admin<{ usage: { total: Totals & { models: Record<string, Totals> } } }>('GET', `/api/admin/api-keys/${id}/usage`)).body.usage
  }
})
