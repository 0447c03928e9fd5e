// OpenAI chat completions as an adapter of the relay pipeline: the model picks the platform
// (claude-* → Claude accounts, gemini-* → Gemini accounts); the request is translated into the
// platform's own protocol when it is parsed, and the answer back as it streams.
import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Dispatcher } from 'undici'
import type { H3Event } from 'h3'
import { type Account, claudeAccounts, geminiAccounts } from '../../accounts'
import { useConfig } from '../../config'
import { type ParsedRequest, type ProtocolAdapter, type RequestContext, runPipeline, type UsageTap } from '../../relay/pipeline'
import { isModelName, MODEL_NAME_RULE } from '../../relay/model-name'
import { type Delivery, type Forwarding, type LocalAnswer, sendAnswer } from '../../upstream/forward'
import type { UpstreamAnswer } from '../../upstream/answer'
import { SSE_HEADERS } from '../../upstream/headers'
import { type Outcome, pump, readBounded, sendHeadersSoon } from '../../upstream/stream'
import { clientDeadline } from '../anthropic/cache-wait'
import { claudeClientExclusion } from '../anthropic/clients'
import { claudeJudging } from '../anthropic/relay'
import { accountAuthHeaders, baseUrl, upstreamUrl } from '../anthropic/request'
import { sessionHash } from '../anthropic/session'
import { geminiJudging, upstreamFor } from '../gemini/relay'
import { MODEL_ID } from '../gemini/routes'
import { claudeErrorToOpenAI, ClaudeToOpenAIStream, fromClaudeMessage } from './from-claude'
import { fromGeminiResponse, geminiErrorToOpenAI, GeminiToOpenAIStream } from './from-gemini'
import { errorBody } from './chunks'
import { OpenAIError, openaiFail } from './errors'
import { imageResolver } from './images'
import { toClaude } from './to-claude'
import { toGemini } from './to-gemini'
import { OpenAIRequestError, type StreamTranslator, type TranslateContext, type TranslatedAnswer, type TranslatedError, type TranslatedRequest } from './types'

type Json = Record<string, unknown>
type Platform = 'claude' | 'gemini'

/** A chat-completions route: the CRS aliases `/openai/claude/…` and `/openai/gemini/…` pin the platform. */
export interface OpenAIRoute { platform: Platform | null }

/** A chat-completions request as parsed: the pipeline's parts, and the translation forwarding sends. */
interface OpenAIRequest extends ParsedRequest {
  platform: Platform
  upstream: TranslatedRequest
  ctx: TranslateContext
}

/** What a platform's translator does with its upstream's answers. */
interface AnswerTranslation {
  stream: (ctx: TranslateContext, write: (text: string) => void) => StreamTranslator
  answer: (json: unknown, ctx: TranslateContext) => TranslatedAnswer
  error: (status: number, body: Buffer) => TranslatedError
}

const FROM_CLAUDE: AnswerTranslation = { stream: (ctx, write) => new ClaudeToOpenAIStream(ctx, write), answer: fromClaudeMessage, error: claudeErrorToOpenAI }
const FROM_GEMINI: AnswerTranslation = { stream: (ctx, write) => new GeminiToOpenAIStream(ctx, write), answer: fromGeminiResponse, error: geminiErrorToOpenAI }

/** The most of an upstream's non-streamed answer the relay reads to translate it. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024
const JSON_HEADERS = { 'content-type': 'application/json' }

/** The platform a model belongs to; a model no platform serves (or not the one the route pins) is OpenAI's 404 `model_not_found`. */
function platformOf(model: string, pinned: Platform | null): Platform {
  const platform = model.startsWith('claude-') ? 'claude' : model.startsWith('gemini-') && MODEL_ID.test(model) ? 'gemini' : null
  if (platform && (!pinned || pinned === platform)) return platform
  const served = pinned === 'claude' ? 'claude-* models' : pinned === 'gemini' ? 'gemini-* models' : 'claude-* models (Claude accounts) and gemini-* models (Gemini accounts)'
  throw new OpenAIError(404, 'invalid_request_error', `The model \`${model}\` does not exist here: this endpoint serves ${served}.`, 'model_not_found', {}, 'model')
}

/** An upstream's error answer in OpenAI's shape (as buffered by the failover loop, or read here), keeping its `retry-after`. */
function errorAnswer(e: TranslatedError, upHeaders: Dispatcher.ResponseData['headers']): LocalAnswer {
  const retryAfter = upHeaders['retry-after']
  const headers = typeof retryAfter === 'string' && /^\d{1,6}$/.test(retryAfter) ? { ...JSON_HEADERS, 'retry-after': retryAfter } : { ...JSON_HEADERS }
  return { status: e.status, headers, body: Buffer.from(JSON.stringify(e.body)) }
}

/**
 * Relay a translated answer: an error in OpenAI's shape, a stream translated event by event (the
 * translator is the usage tap, and keeps reading for the usage after the client left), or a whole
 * answer read (bounded), translated and sent.
 */
async function deliverTranslated(up: UpstreamAnswer, res: ServerResponse, d: Delivery, p: OpenAIRequest, t: AnswerTranslation): Promise<{ outcome: Outcome, tap: UsageTap | null }> {
  if (up.statusCode < 200 || up.statusCode >= 300) {
    const body = await readBounded(up.body, 64 * 1024)
    return { outcome: sendAnswer(res, errorAnswer(t.error(up.statusCode, body), up.headers), d), tap: null }
  }
  if (p.upstream.stream) {
    const translator = t.stream(p.ctx, (text) => {
      if (!res.destroyed && !res.writableEnded) res.write(text)
    })
    d.headersSent()
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', ...SSE_HEADERS })
    sendHeadersSoon(res)
    d.pumping()
    const broken = () => {
      translator.fail('The upstream connection was lost mid-stream.')
      res.end()
    }
    const outcome = await pump(up.body, res, translator, broken, () => !res.writableNeedDrain)
    return { outcome, tap: translator }
  }
  const raw = await readBounded(up.body, MAX_ANSWER_BYTES)
  let answer: TranslatedAnswer
  try {
    answer = t.answer(JSON.parse(raw.toString('utf8')), p.ctx)
  }
  catch {
    const body = errorBody('The upstream answer could not be read.', 'server_error', null, 'bad_upstream_answer')
    return { outcome: sendAnswer(res, { status: 502, headers: { ...JSON_HEADERS }, body: Buffer.from(JSON.stringify(body)) }, d), tap: null }
  }
  const tap: UsageTap = { usage: answer.usage, model: answer.model, push: () => {}, end: () => {} }
  return { outcome: sendAnswer(res, { status: 200, headers: { ...JSON_HEADERS }, body: Buffer.from(JSON.stringify(answer.body)) }, d), tap }
}

/** Into a Claude account: the Messages API with the account's credentials, nothing of the client's headers but what the translation says. */
function claudeForwarding({ req, parsed, session }: RequestContext<OpenAIRoute, OpenAIRequest>, pick: (tried: ReadonlySet<string>) => Promise<Account | null>): Forwarding<Account, UsageTap> {
  const cfg = useConfig()
  const body = Buffer.from(JSON.stringify(parsed.upstream.body))
  return {
    accounts: claudeAccounts,
    pick,
    fail: openaiFail,
    call: async account => ({
      url: upstreamUrl(baseUrl(account, cfg.claude.apiUrl), '/v1/messages'), method: 'POST', body,
      headers: {
        'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'accept-encoding': 'identity',
        'content-length': String(body.length), ...accountAuthHeaders(account),
      },
    }),
    ...claudeJudging(session, clientDeadline(req, Date.now())),
    buffered: (status, headers, b) => errorAnswer(claudeErrorToOpenAI(status, b), headers),
    deliver: (up, res, d) => deliverTranslated(up, res, d, parsed, FROM_CLAUDE),
  }
}

/** Into a Gemini account: generateContent (or its stream as SSE) on the API or Code Assist. */
function geminiForwarding({ req, parsed }: RequestContext<OpenAIRoute, OpenAIRequest>, pick: (tried: ReadonlySet<string>) => Promise<Account | null>): Forwarding<Account, UsageTap> {
  const stream = parsed.upstream.stream
  const route = { kind: 'generate', version: 'v1beta', model: parsed.model, method: stream ? 'streamGenerateContent' : 'generateContent' } as const
  const native = { ...parsed, internal: null, query: stream ? '?alt=sse' : '', sse: true }
  const body = Buffer.from(JSON.stringify(parsed.upstream.body))
  return {
    accounts: geminiAccounts,
    pick,
    fail: openaiFail,
    // Code Assist answers come wrapped in `{response: …}`: the translators look through it.
    call: async account => (await upstreamFor(req, route, native, body, parsed.upstream.body, account)).call,
    ...geminiJudging(),
    buffered: (status, headers, b) => errorAnswer(geminiErrorToOpenAI(status, b), headers),
    deliver: (up, res, d) => deliverTranslated(up, res, d, parsed, FROM_GEMINI),
  }
}

/**
 * The adapter for one request. Which platform's accounts serve it is known only once the body is
 * parsed (its model), so `platform` and `accounts` follow what `parse` found; the pipeline reads
 * them after parsing.
 */
function openaiAdapter(): ProtocolAdapter<OpenAIRoute, Account, UsageTap, OpenAIRequest> {
  let platform: Platform = 'claude'
  return {
    get platform() {
      return platform
    },
    protocol: 'openai',
    fail: openaiFail,
    get accounts() {
      return platform === 'claude' ? claudeAccounts : geminiAccounts
    },
    hasBody: () => true,
    parse: async (route, json) => {
      const model = json.model
      if (typeof model !== 'string' || !model) throw new OpenAIRequestError('model must be a non-empty string.', 'model')
      if (!isModelName(model)) throw new OpenAIRequestError(`Invalid model name: ${MODEL_NAME_RULE}.`, 'model')
      platform = platformOf(model, route.platform)
      const cfg = useConfig()
      const images = imageResolver(cfg.openai.images)
      const upstream = platform === 'claude'
        ? await toClaude(json, images, { maxTokens: cfg.openai.defaultMaxTokens })
        : await toGemini(json, images, { maxTokens: null })
      const options = json.stream_options as Json | null | undefined
      const ctx: TranslateContext = {
        id: `chatcmpl-${randomBytes(12).toString('base64url')}`, created: Math.floor(Date.now() / 1000), model,
        includeUsage: upstream.stream && !!options && typeof options === 'object' && options.include_usage === true,
      }
      return {
        model, modelChecked: true, stream: upstream.stream, record: true, route: 'chat/completions',
        sessionHash: platform === 'claude' ? sessionHash(upstream.body) : null,
        platform, upstream, ctx,
      }
    },
    // Translated requests are never Claude Code's: only Claude accounts that accept any client serve them.
    exclude: async () => (platform === 'claude' ? claudeClientExclusion(false) : null),
    forwarding: (ctx, pick) => (ctx.parsed.platform === 'claude' ? claudeForwarding(ctx, pick) : geminiForwarding(ctx, pick)),
  }
}

/** Relay one chat-completions request into a Claude or Gemini account through the pipeline. */
export function relayChatCompletion(event: H3Event, route: OpenAIRoute): Promise<void> {
  return runPipeline(event, openaiAdapter(), () => route)
}
