import { GoogleGenAI } from '@google/genai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  codeAssistJson, codeAssistSseEvents, countTokensJson, FAKE_PROJECT, FakeGemini, geminiChunks, geminiJson, geminiJsonArray,
  geminiResponse, geminiSseEvents, geminiText, GOOGLE_ERRORS, modelJson, modelsListJson, ONBOARD_OPERATION, TRACE_ID, UPSTREAM_ONLY_HEADER,
} from '../fixtures/gemini-upstream'

// The fake Google backends used by the Gemini integration tests, checked on their own with fetch:
// framing, auth, onboarding and error modes must be right before they can judge the relay.

const KEY = 'AIzaSy-fixture-key'
const TOKEN = 'ya29.fixture-token'
const contents = [{ role: 'user', parts: [{ text: 'hi' }] }]

describe('FakeGemini', () => {
  const fake = new FakeGemini()
  beforeAll(async () => {
    await fake.start()
    fake.addApiKey(KEY)
    fake.addAccessToken(TOKEN)
  })
  afterAll(() => fake.stop())
  beforeEach(() => fake.reset())

  const api = (path: string, init: RequestInit & { key?: string | null } = {}) => {
    const { key = KEY, ...rest } = init
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(key ? { 'x-goog-api-key': key } : {}) }
    return fetch(`${fake.url}${path}`, { method: 'POST', headers, body: JSON.stringify({ contents }), ...rest })
  }
  const ca = (method: string, body: unknown, token: string | null = TOKEN, query = '') => fetch(`${fake.url}/v1internal:${method}${query}`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  })
  const caGenerate = (project: string | undefined = FAKE_PROJECT) => ({ model: 'gemini-2.5-pro', project, user_prompt_id: 'p1', request: { contents } })

  it('generateContent: pretty JSON, byte-exact with geminiJson, full usage; records the request', async () => {
    fake.behaviour.usage = { promptTokenCount: 100, candidatesTokenCount: 20, thoughtsTokenCount: 7, cachedContentTokenCount: 40 }
    const res = await api('/v1beta/models/gemini-2.5-pro:generateContent')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8')
    expect(res.headers.get(UPSTREAM_ONLY_HEADER)).toBe('upstream-only')
    const text = await res.text()
    expect(text).toBe(geminiJson(fake.behaviour, 'gemini-2.5-pro'))
    expect(text).toContain('\n  "candidates"')
    expect(JSON.parse(text)).toEqual(geminiResponse(fake.behaviour, 'gemini-2.5-pro'))
    expect(JSON.parse(text).usageMetadata).toMatchObject({ promptTokenCount: 100, candidatesTokenCount: 20, totalTokenCount: 127, thoughtsTokenCount: 7, cachedContentTokenCount: 40 })
    const rec = fake.last()
    expect(rec).toMatchObject({ api: 'generative-language', rpc: 'generateContent', model: 'gemini-2.5-pro', credential: KEY, status: 200, completed: true, aborted: false, body: { contents } })
    expect(rec.response).toBe(text)
    expect(rec.remotePort).toBeGreaterThan(0)
    expect(fake.saw(KEY)).toBe(true)
    expect(fake.saw('never-sent')).toBe(false)
  })

  it('leaves zero thoughts/cached counts out, like Google', () => {
    const usage = geminiResponse(fake.behaviour, 'gemini-2.5-pro').usageMetadata
    expect(usage).not.toHaveProperty('thoughtsTokenCount')
    expect(usage).not.toHaveProperty('cachedContentTokenCount')
    expect(usage.totalTokenCount).toBe(43)
  })

  it('streamGenerateContent?alt=sse: data frames ending \\r\\n\\r\\n, partial usage until the last chunk', async () => {
    fake.behaviour.deltas = ['a', 'b', 'c']
    const res = await api('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse')
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    const text = await res.text()
    expect(text).toBe(geminiSseEvents(fake.behaviour, 'gemini-2.5-flash').join(''))
    const events = text.split('\r\n\r\n')
    expect(events.pop()).toBe('')
    const chunks = events.map(e => JSON.parse(e.replace(/^data: /, '')))
    expect(chunks).toEqual(geminiChunks(fake.behaviour, 'gemini-2.5-flash'))
    expect(chunks.map(c => c.candidates[0].content.parts[0].text)).toEqual(['a', 'b', 'c'])
    expect(chunks[0].usageMetadata).toEqual({ promptTokenCount: 31 })
    expect(chunks[0].candidates[0].finishReason).toBeUndefined()
    expect(chunks[2].candidates[0].finishReason).toBe('STOP')
    expect(chunks[2].usageMetadata).toMatchObject({ promptTokenCount: 31, candidatesTokenCount: 12, totalTokenCount: 43 })
  })

  it('streamGenerateContent without alt: a streamed JSON array `[{…}` `\\r\\n,{…}` `]`', async () => {
    fake.behaviour.deltas = ['x', 'y']
    const res = await api('/v1/models/gemini-2.5-pro:streamGenerateContent')
    expect(res.headers.get('content-type')).toBe('application/json; charset=UTF-8')
    const text = await res.text()
    expect(text).toBe(geminiJsonArray(fake.behaviour, 'gemini-2.5-pro').join(''))
    expect(text.startsWith('[{')).toBe(true)
    expect(text).toContain('}\r\n,{')
    expect(text.endsWith('}]')).toBe(true)
    expect(JSON.parse(text)).toEqual(geminiChunks(fake.behaviour, 'gemini-2.5-pro'))
  })

  it('countTokens, models list and one model', async () => {
    expect(await (await api('/v1beta/models/gemini-2.5-pro:countTokens')).text()).toBe(countTokensJson(fake.behaviour, 'generative-language'))
    const list = await api('/v1beta/models', { method: 'GET', body: undefined })
    expect(await list.text()).toBe(modelsListJson())
    const one = await (await api('/v1/models/gemini-2.5-flash', { method: 'GET', body: undefined })).text()
    expect(one).toBe(modelJson('gemini-2.5-flash'))
    expect(JSON.parse(one).name).toBe('models/gemini-2.5-flash')
    expect(fake.requests.map(r => r.rpc)).toEqual(['countTokens', 'listModels', 'getModel'])
  })

  it('API auth: ?key= works; no key → 403, an unknown key → 400 API_KEY_INVALID; a bearer token is no API key', async () => {
    expect((await api(`/v1beta/models/gemini-2.5-pro:generateContent?key=${KEY}`, { key: null })).status).toBe(200)
    const missing = await api('/v1beta/models/gemini-2.5-pro:generateContent', { key: null })
    expect(missing.status).toBe(403)
    expect(await missing.text()).toBe(GOOGLE_ERRORS.apiKeyMissing.body)
    const wrong = await api('/v1beta/models/gemini-2.5-pro:generateContent', { key: 'AIzaSy-wrong' })
    expect(wrong.status).toBe(400)
    const body = await wrong.json()
    expect(body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: 'API key not valid. Please pass a valid API key.' })
    expect(body.error.details[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', 'reason': 'API_KEY_INVALID' })
    const bearer = await fetch(`${fake.url}/v1beta/models/gemini-2.5-pro:generateContent`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ contents }) })
    expect(bearer.status).toBe(403)
  })

  it('API validation: unknown model → 404 NOT_FOUND, no contents / bad JSON → 400, unknown path → HTML 404', async () => {
    const unknown = await api('/v1beta/models/gemini-9-ultra:generateContent')
    expect(unknown.status).toBe(404)
    expect((await unknown.json()).error.status).toBe('NOT_FOUND')
    const empty = await api('/v1beta/models/gemini-2.5-pro:generateContent', { body: '{}' })
    expect(empty.status).toBe(400)
    expect((await empty.json()).error.status).toBe('INVALID_ARGUMENT')
    const bad = await api('/v1beta/models/gemini-2.5-pro:generateContent', { body: '{not json' })
    expect(bad.status).toBe(400)
    const html = await api('/v2/whatever')
    expect(html.status).toBe(404)
    expect(html.headers.get('content-type')).toMatch(/^text\/html/)
    expect((await api('/v1beta/models/gemini-2.5-pro:generateContent', { method: 'GET', body: undefined })).status).toBe(404)
  })

  it('Code Assist auth: no or unknown bearer → 401 UNAUTHENTICATED; fake-access-N only with acceptFakeAccessTokens', async () => {
    for (const token of [null, 'ya29.unknown', 'fake-access-7']) {
      const res = await ca('generateContent', caGenerate(), token)
      expect(res.status).toBe(401)
      expect(await res.text()).toBe(GOOGLE_ERRORS.unauthenticated.body)
    }
    fake.acceptFakeAccessTokens = true
    try {
      expect((await ca('generateContent', caGenerate(), 'fake-access-7')).status).toBe(200)
      expect((await ca('generateContent', caGenerate(), 'fake-access-x')).status).toBe(401)
    }
    finally {
      fake.acceptFakeAccessTokens = false
    }
  })

  it('Code Assist generate: wrapped {response, traceId}, byte-exact; stream wraps every SSE chunk; countTokens', async () => {
    const json = await ca('generateContent', caGenerate())
    const text = await json.text()
    expect(text).toBe(codeAssistJson(fake.behaviour, 'gemini-2.5-pro'))
    expect(JSON.parse(text)).toEqual({ response: geminiResponse(fake.behaviour, 'gemini-2.5-pro'), traceId: TRACE_ID })
    const stream = await ca('streamGenerateContent', caGenerate(), TOKEN, '?alt=sse')
    expect(stream.headers.get('content-type')).toBe('text/event-stream')
    const sse = await stream.text()
    expect(sse).toBe(codeAssistSseEvents(fake.behaviour, 'gemini-2.5-pro').join(''))
    const frames = sse.split('\r\n\r\n').filter(Boolean).map(e => JSON.parse(e.slice('data: '.length)))
    expect(frames.map(f => f.response)).toEqual(geminiChunks(fake.behaviour, 'gemini-2.5-pro'))
    expect(frames.every(f => f.traceId === TRACE_ID)).toBe(true)
    const array = await (await ca('streamGenerateContent', caGenerate())).json()
    expect(array.map((f: { response: unknown }) => f.response)).toEqual(geminiChunks(fake.behaviour, 'gemini-2.5-pro'))
    // countTokens as Gemini CLI sends it: no project, model inside the request.
    const count = await ca('countTokens', { request: { model: 'models/gemini-2.5-pro', contents } })
    expect(await count.text()).toBe(countTokensJson(fake.behaviour, 'code-assist'))
    expect(fake.calls('generateContent')[0]).toMatchObject({ api: 'code-assist', credential: TOKEN, body: { project: FAKE_PROJECT } })
  })

  it('Code Assist refuses an unknown or missing project (403) and accepts one added with addProject', async () => {
    expect((await ca('generateContent', caGenerate('someone-elses'))).status).toBe(403)
    expect((await ca('generateContent', { ...caGenerate(), project: undefined })).status).toBe(403)
    fake.addProject('someone-elses')
    expect((await ca('generateContent', caGenerate('someone-elses'))).status).toBe(200)
    fake.behaviour.project = null
    expect((await ca('generateContent', caGenerate())).status).toBe(403)
  })

  it('onboarding: no tier → onboardUser polled (done:false × onboardPolls) → project; then loadCodeAssist shows it', async () => {
    fake.behaviour = { ...fake.behaviour, needsOnboarding: true, onboardPolls: 2, project: 'onboard-proj' }
    const before = await (await ca('loadCodeAssist', { metadata: { pluginType: 'GEMINI' } })).json()
    expect(before.currentTier).toBeUndefined()
    expect(before.cloudaicompanionProject).toBeUndefined()
    expect(before.allowedTiers.find((t: { isDefault?: boolean }) => t.isDefault).id).toBe('free-tier')
    expect((await ca('generateContent', caGenerate('onboard-proj'))).status).toBe(403)
    expect((await ca('onboardUser', { metadata: {} })).status).toBe(400)
    const polls = []
    for (let i = 0; i < 3; i++) polls.push(await (await ca('onboardUser', { tierId: 'free-tier', metadata: {} })).json())
    expect(polls.slice(0, 2)).toEqual([{ name: ONBOARD_OPERATION, done: false }, { name: ONBOARD_OPERATION, done: false }])
    expect(polls[2]).toMatchObject({ name: ONBOARD_OPERATION, done: true, response: { cloudaicompanionProject: { id: 'onboard-proj', name: 'onboard-proj' } } })
    const after = await (await ca('loadCodeAssist', { metadata: {} })).json()
    expect(after).toMatchObject({ currentTier: { id: 'free-tier' }, cloudaicompanionProject: 'onboard-proj' })
    expect((await ca('generateContent', caGenerate('onboard-proj'))).status).toBe(200)
  })

  it('loadCodeAssist with a project, listExperiments, retrieveUserQuota', async () => {
    expect(await (await ca('loadCodeAssist', { metadata: {} })).json()).toMatchObject({
      currentTier: { id: 'free-tier', name: 'Gemini Code Assist for individuals' }, allowedTiers: [{ id: 'free-tier', isDefault: true }, { id: 'standard-tier' }], cloudaicompanionProject: FAKE_PROJECT,
    })
    expect(await (await ca('listExperiments', { metadata: {} })).json()).toEqual({ experimentIds: [], flags: [] })
    expect((await (await ca('retrieveUserQuota', { project: FAKE_PROJECT })).json()).buckets[0]).toMatchObject({ remainingFraction: 0.9, modelId: 'gemini-2.5-pro' })
    expect((await ca('nope', {})).status).toBe(404)
  })

  it.each(['error429', 'error500', 'error503'] as const)('%s: Google\'s error body on model calls; setup calls still answer', async (mode) => {
    fake.behaviour.mode = mode
    const res = await api('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse')
    expect(res.status).toBe(GOOGLE_ERRORS[mode].status)
    expect(await res.text()).toBe(GOOGLE_ERRORS[mode].body)
    expect((await ca('generateContent', caGenerate())).status).toBe(GOOGLE_ERRORS[mode].status)
    expect((await ca('loadCodeAssist', {})).status).toBe(200)
    expect((await api('/v1beta/models', { method: 'GET', body: undefined })).status).toBe(200)
  })

  it('429 carries RetryInfo 17s', async () => {
    fake.behaviour.mode = 'error429'
    const body = await (await api('/v1beta/models/gemini-2.5-pro:generateContent')).json()
    expect(body.error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', 'retryDelay': '17s' }] })
  })

  it('behaveFor: one credential errors, the others are served', async () => {
    fake.addApiKey('AIzaSy-second')
    fake.behaveFor('AIzaSy-second', { mode: 'error429' })
    expect((await api('/v1beta/models/gemini-2.5-pro:generateContent', { key: 'AIzaSy-second' })).status).toBe(429)
    expect((await api('/v1beta/models/gemini-2.5-pro:generateContent')).status).toBe(200)
  })

  it('hang: never answers; the client giving up is recorded as an abort', async () => {
    fake.behaviour.mode = 'hang'
    await expect(api('/v1beta/models/gemini-2.5-pro:generateContent', { signal: AbortSignal.timeout(200) })).rejects.toThrow()
    expect(await fake.waitForAbort()).toBe(true)
    expect(fake.last()).toMatchObject({ status: 0, completed: false, aborted: true })
  })

  it('reset: a stream sends resetAfter chunks, then the socket is destroyed', async () => {
    fake.behaviour = { ...fake.behaviour, mode: 'reset', resetAfter: 2, deltas: ['1', '2', '3', '4'] }
    const res = await api('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse')
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toThrow()
    expect(fake.last().response).toBe(geminiSseEvents(fake.behaviour, 'gemini-2.5-pro').slice(0, 2).join(''))
    expect(fake.last().aborted).toBe(true)
    await expect(api('/v1beta/models/gemini-2.5-pro:generateContent')).rejects.toThrow()
  })

  it('a client that walks away mid-stream is recorded as aborted', async () => {
    fake.behaviour = { ...fake.behaviour, delayMs: 100, deltas: Array.from({ length: 20 }, (_, i) => `w${i} `) }
    const ac = new AbortController()
    const res = await api('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse', { signal: ac.signal })
    const reader = res.body!.getReader()
    await reader.read()
    ac.abort()
    await reader.read().catch(() => {})
    expect(await fake.waitForAbort()).toBe(true)
    expect(fake.last().completed).toBe(false)
  })

  it('Google\'s own SDK reads the fake\'s answers (JSON and SSE framing) like the real API\'s', async () => {
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: fake.url } })
    const answer = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' })
    expect(answer.text).toBe(geminiText(fake.behaviour))
    expect(answer.usageMetadata?.totalTokenCount).toBe(43)
    const texts: string[] = []
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hi' })) texts.push(chunk.text ?? '')
    expect(texts).toEqual(fake.behaviour.deltas)
    expect((await ai.models.countTokens({ model: 'gemini-2.5-pro', contents: 'hi' })).totalTokens).toBe(31)
    expect(fake.requests.map(r => [r.path, r.credential])).toEqual([
      ['/v1beta/models/gemini-2.5-flash:generateContent', KEY],
      ['/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse', KEY],
      ['/v1beta/models/gemini-2.5-pro:countTokens', KEY],
    ])
  })

  it('reset() forgets behaviour, overrides, onboarding and requests; keeps credentials', async () => {
    fake.behaviour.mode = 'error500'
    fake.behaveFor(KEY, { mode: 'error429' })
    await api('/v1beta/models/gemini-2.5-pro:generateContent')
    fake.reset()
    expect(fake.requests).toEqual([])
    expect((await api('/v1beta/models/gemini-2.5-pro:generateContent')).status).toBe(200)
    expect((await ca('generateContent', caGenerate())).status).toBe(200)
  })
})
