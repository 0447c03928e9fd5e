import { z } from 'zod'
import type { ZodOpenApiPathItemObject, ZodOpenApiPathsObject } from 'zod-openapi'
import { UsageDaysQuerySchema } from '../admin/usage-schemas'
import { MODEL_ID } from '../protocols/gemini/routes'
import { type Family, operation, type OperationSpec, type Security } from './operations'
import { AnthropicError, GoogleError, open, OpenAIError } from './shapes'

// The relay speaks the upstream protocols as they are: their bodies are open objects naming the
// fields the relay itself reads, with a link to the vendor's own reference (not re-specified here).

/** A relay key (`cr_…`) in any of the places server/keys/extract.ts reads it from. */
export const CLIENT_SECURITY: Security = [{ clientApiKey: [] }, { clientBearer: [] }, { clientGoogApiKey: [] }, { clientKeyQuery: [] }]

const RELAY_ERRORS = [401, 403, 413, 429, 500, 502, 503, 504] as const
const claude: Family = { tag: 'claude', security: CLIENT_SECURITY, error: AnthropicError, statuses: [401, 500, 503] }
const gemini: Family = { tag: 'gemini', security: CLIENT_SECURITY, error: GoogleError, statuses: [401, 500, 503] }
const openai: Family = { tag: 'openai', security: CLIENT_SECURITY, error: OpenAIError, statuses: [401, 500, 503] }

/** A JSON answer or, when the request asked to stream, server-sent events. */
const jsonOrSse = (description: string) => ({
  description,
  content: { 'application/json': { schema: open('The upstream\'s answer') }, 'text/event-stream': { schema: z.string() } },
})

/** The same operations at the canonical path and at each alias (the route files re-export one handler). */
function aliased(canonical: string, aliases: readonly string[], item: ZodOpenApiPathItemObject): ZodOpenApiPathsObject {
  return Object.fromEntries([[canonical, item], ...aliases.map(a => [a, { ...item, description: `CRS-compatible alias of ${canonical}.` }])])
}

/** Every path of `paths` (under `from`) again under the alias prefix `to`. */
const underAlias = (paths: ZodOpenApiPathsObject, from: string, to: string): ZodOpenApiPathsObject =>
  Object.assign({}, ...Object.entries(paths).map(([p, item]) => aliased(p, [to + p.slice(from.length)], item)))

const ANTHROPIC_DOCS = 'https://docs.anthropic.com/en/api'
const MessagesRequest = z.looseObject({
  model: z.string(),
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.unknown() })),
  max_tokens: z.number().int().optional(),
  system: z.unknown().optional(),
  stream: z.boolean().optional(),
}).meta({ id: 'AnthropicMessagesRequest', description: 'An Anthropic Messages API request, passed through as is.' })

const relayed = (s: OperationSpec): OperationSpec => ({ ...s, also: [...RELAY_ERRORS, ...(s.also ?? [])] })

const claudePaths: ZodOpenApiPathsObject = {
  ...aliased('/api/v1/messages', ['/claude/v1/messages'], {
    post: operation(claude, relayed({
      summary: 'Create a message (Claude Messages API)', body: MessagesRequest,
      query: z.object({ beta: z.enum(['true']).optional().meta({ description: 'As Claude Code sends it.' }) }),
      ok: jsonOrSse('A Message, or its stream as SSE when `stream: true`'),
      externalDocs: { url: `${ANTHROPIC_DOCS}/messages`, description: 'Anthropic Messages API' },
    })),
  }),
  ...aliased('/api/v1/messages/count_tokens', ['/claude/v1/messages/count_tokens'], {
    post: operation(claude, relayed({
      summary: 'Count a message\'s tokens', body: MessagesRequest, ok: open('{ input_tokens }'),
      externalDocs: { url: `${ANTHROPIC_DOCS}/messages-count-tokens` },
    })),
  }),
  ...aliased('/api/v1/models', ['/claude/v1/models'], {
    get: operation(claude, { summary: 'The Claude models this key may use', ok: open('Anthropic\'s model list: { data, has_more, first_id, last_id }'), also: [403] }),
  }),
  ...aliased('/api/v1/key-info', ['/claude/v1/key-info'], { get: operation(claude, { summary: 'This key: status, expiry, limits and their state, usage', ok: open('The key holder\'s view of their key') }) }),
  ...aliased('/api/v1/me', ['/claude/v1/me'], { get: operation(claude, { summary: 'Same as key-info', ok: open('The key holder\'s view of their key') }) }),
  ...aliased('/api/v1/usage', ['/claude/v1/usage'], { get: operation(claude, { summary: 'This key\'s usage per day and model', query: UsageDaysQuerySchema, ok: open('{ keyId, daily, total }') }) }),
}

const GEMINI_DOCS = 'https://ai.google.dev/api'
const GenerateContentRequest = z.looseObject({
  contents: z.array(z.looseObject({ role: z.string().optional(), parts: z.array(z.looseObject({})) })),
  systemInstruction: z.unknown().optional(),
  generationConfig: z.unknown().optional(),
}).meta({ id: 'GeminiGenerateContentRequest', description: 'A Gemini generateContent request, passed through as is.' })
const version = z.enum(['v1beta', 'v1'])
const model = z.string().regex(MODEL_ID).meta({ example: 'gemini-2.5-pro' })

const geminiPaths = (base: string): ZodOpenApiPathsObject => {
  const generate = (method: string, summary: string, ok: OperationSpec['ok'], query?: z.ZodObject): ZodOpenApiPathItemObject => ({
    post: operation(gemini, relayed({
      summary, path: z.object({ version, model }), query, body: GenerateContentRequest, ok,
      externalDocs: { url: `${GEMINI_DOCS}/${method === 'countTokens' ? 'tokens' : 'generate-content'}` },
    })),
  })
  return {
    [`${base}/{version}/models`]: {
      get: operation(gemini, {
        summary: 'The Gemini models', path: z.object({ version }), also: [403, 502, 503, 504],
        query: z.object({ pageSize: z.number().int().min(1).max(1000).optional(), pageToken: z.string().max(512).optional() }),
        ok: open('Google\'s model list'), externalDocs: { url: `${GEMINI_DOCS}/models` },
      }),
    },
    [`${base}/{version}/models/{model}`]: {
      get: operation(gemini, { summary: 'One Gemini model', path: z.object({ version, model }), ok: open('A Google model'), also: [403, 404, 502, 503, 504], externalDocs: { url: `${GEMINI_DOCS}/models` } }),
    },
    [`${base}/{version}/models/{model}:generateContent`]: generate('generateContent', 'Generate content', open('A GenerateContentResponse')),
    [`${base}/{version}/models/{model}:streamGenerateContent`]: generate('streamGenerateContent', 'Generate content as a stream', jsonOrSse('A JSON array of responses, or SSE with `alt=sse`'), z.object({ alt: z.enum(['sse']).optional() })),
    [`${base}/{version}/models/{model}:countTokens`]: generate('countTokens', 'Count tokens', open('{ totalTokens }')),
    [`${base}/v1internal:{method}`]: {
      post: operation(gemini, relayed({
        summary: 'Gemini CLI\'s Code Assist methods', body: z.looseObject({}),
        path: z.object({ method: z.enum(['loadCodeAssist', 'onboardUser', 'generateContent', 'streamGenerateContent', 'countTokens', 'listExperiments', 'retrieveUserQuota']) }),
        ok: jsonOrSse('The Code Assist answer (SSE for streamGenerateContent with `alt=sse`)'),
      })),
    },
  }
}

const ChatRequest = z.looseObject({
  model: z.string().meta({ description: '`claude-*` goes to Claude accounts, `gemini-*` to Gemini accounts.' }),
  messages: z.array(z.looseObject({ role: z.string(), content: z.unknown() })),
  stream: z.boolean().optional(),
  max_tokens: z.number().int().optional(),
}).meta({ id: 'OpenAIChatRequest', description: 'An OpenAI chat completions request, translated to the model\'s platform.' })
const ModelObject = z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }).meta({ id: 'OpenAIModel' })

const chat = (summary: string): ZodOpenApiPathItemObject => ({
  post: operation(openai, relayed({
    summary, body: ChatRequest, ok: jsonOrSse('A chat.completion, or chat.completion.chunk events when `stream: true`'),
    externalDocs: { url: 'https://platform.openai.com/docs/api-reference/chat/create', description: 'OpenAI chat completions' },
  })),
})

const openaiPaths: ZodOpenApiPathsObject = {
  ...aliased('/openai/v1/chat/completions', ['/api/v1/chat/completions'], chat('Chat completions into Claude or Gemini accounts')),
  '/openai/claude/v1/chat/completions': chat('Chat completions into Claude accounts only'),
  '/openai/gemini/v1/chat/completions': chat('Chat completions into Gemini accounts only'),
  '/openai/v1/models': { get: operation(openai, { summary: 'The models this key may use', ok: z.object({ object: z.literal('list'), data: z.array(ModelObject) }) }) },
  '/openai/v1/models/{id}': { get: operation(openai, { summary: 'One model this key may use', path: z.object({ id: z.string() }), ok: ModelObject, also: [404] }) },
}

/** Every client route: Claude (and its /claude aliases), Gemini (under /api/gemini and /gemini), OpenAI chat. */
export const clientPaths: ZodOpenApiPathsObject = { ...claudePaths, ...underAlias(geminiPaths('/api/gemini'), '/api/gemini', '/gemini'), ...openaiPaths }
