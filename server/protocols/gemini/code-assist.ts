import { request } from 'undici'
import type { Account } from '../../accounts'
import { geminiAccounts } from '../../accounts'
import { useConfig } from '../../config'
import { useLogger } from '../../logging'
import { SseReader } from '../../upstream/sse'
import { readBounded } from '../../upstream/stream'
import { GoogleError, googleErrorBody } from './errors'
import { type InternalMethod, MODEL_ID } from './routes'

type Json = Record<string, unknown>

const METADATA = { ideType: 'IDE_UNSPECIFIED', platform: 'PLATFORM_UNSPECIFIED', pluginType: 'GEMINI' }
const ONBOARD_POLL_MS = 1000
const ONBOARD_MAX_POLLS = 30
const MAX_SETUP_BODY = 256 * 1024

/** A Code Assist setup call failed (the account cannot serve until it works). */
export class CodeAssistSetupError extends Error {}

async function call(account: Account, method: string, body: Json): Promise<Json> {
  const cfg = useConfig()
  const res = await request(`${cfg.gemini.codeAssistUrl}/v1internal:${method}`, {
    method: 'POST', dispatcher: geminiAccounts.dispatcherFor(account),
    headers: { 'content-type': 'application/json', 'authorization': `Bearer ${account.oauth?.accessToken ?? ''}` },
    body: JSON.stringify(body), headersTimeout: 30_000, bodyTimeout: 30_000,
  })
  const text = (await readBounded(res.body, MAX_SETUP_BODY)).toString('utf8')
  if (res.statusCode >= 300) throw new CodeAssistSetupError(`Code Assist ${method} answered ${res.statusCode}`)
  try {
    return JSON.parse(text) as Json
  }
  catch {
    throw new CodeAssistSetupError(`Code Assist ${method} answered with something other than JSON`)
  }
}

const projectOf = (v: unknown): string | null => {
  if (typeof v === 'string' && v) return v
  if (v && typeof v === 'object' && typeof (v as Json).id === 'string') return (v as Json).id as string
  return null
}

const inflight = new Map<string, Promise<string>>()

/**
 * The Code Assist project of an OAuth account: the one it was given, else the one loadCodeAssist
 * reports, else onboard it on its default tier (onboardUser polled until done). Discovered
 * projects are cached on the account; concurrent requests share one discovery.
 */
export function projectFor(account: Account): Promise<string> {
  if (account.projectId) return Promise.resolve(account.projectId)
  let p = inflight.get(account.id)
  if (!p) {
    p = discover(account).finally(() => inflight.delete(account.id))
    inflight.set(account.id, p)
  }
  return p
}

async function discover(account: Account): Promise<string> {
  const load = await call(account, 'loadCodeAssist', { metadata: METADATA })
  let project = projectOf(load.cloudaicompanionProject)
  if (!project) {
    const tiers = Array.isArray(load.allowedTiers) ? load.allowedTiers as Json[] : []
    const tierId = String((load.currentTier as Json | undefined)?.id ?? tiers.find(t => t.isDefault)?.id ?? 'free-tier')
    for (let i = 0; i < ONBOARD_MAX_POLLS && !project; i++) {
      const op = await call(account, 'onboardUser', { tierId, metadata: METADATA })
      if (op.done) project = projectOf((op.response as Json | undefined)?.cloudaicompanionProject)
      else await new Promise(r => setTimeout(r, ONBOARD_POLL_MS))
    }
  }
  if (!project) throw new CodeAssistSetupError('Code Assist gave this account no project: set projectId on the account')
  account.projectId = project
  await geminiAccounts.setProject(account.id, project)
  useLogger().info({ accountId: account.id }, 'gemini code assist project discovered')
  return project
}

/** The standard request as Code Assist wants it (countTokens takes no project). */
export function wrapRequest(method: string, model: string, project: string, body: Json): Json {
  if (method === 'countTokens') return { request: { model: `models/${model}`, contents: body.contents ?? [] } }
  // The model is the path's (checked against the key's allow-list), never one named inside the body.
  const { model: _ignored, ...request } = body
  return { model, project, request }
}

/** What the relay takes from a Gemini CLI call: a validated model, the request object and two bounded ids. Nothing else is read. */
export interface InternalParts {
  model: string
  request: Json | null
  userPromptId?: string
  sessionId?: string
}

const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)
const ID_TEXT = /^[\x21-\x7e]{1,256}$/

/**
 * The parts of a `v1internal:*` body the relay uses, validated (throws a 400 GoogleError).
 * generate calls: `model` (a model id, `models/` allowed), `request` (an object naming no other
 * model), `user_prompt_id` / `session_id` (bounded printable strings); countTokens: `request`
 * naming its model; setup calls (loadCodeAssist, onboardUser, …): nothing from the client.
 */
export function internalParts(method: InternalMethod, body: Json): InternalParts {
  const bad = (message: string) => new GoogleError(400, message)
  const modelId = (v: unknown, field: string) => {
    const id = typeof v === 'string' ? v.replace(/^models\//, '') : ''
    if (!MODEL_ID.test(id)) throw bad(`${field} must name a model (letters, digits and . _ -, optionally after models/).`)
    return id
  }
  if (method === 'countTokens') {
    if (!isObject(body.request)) throw bad('request must be an object.')
    return { model: modelId(body.request.model, 'request.model'), request: body.request }
  }
  if (method !== 'generateContent' && method !== 'streamGenerateContent') return { model: '', request: null }
  const model = modelId(body.model, 'model')
  if (!isObject(body.request)) throw bad('request must be an object.')
  if (body.request.model !== undefined && modelId(body.request.model, 'request.model') !== model) throw bad('request.model must be the model named in model.')
  const id = (field: 'user_prompt_id' | 'session_id') => {
    const v = body[field]
    if (v === undefined) return undefined
    if (typeof v !== 'string' || !ID_TEXT.test(v)) throw bad(`${field} must be 1 to 256 printable characters.`)
    return v
  }
  return { model, request: body.request, userPromptId: id('user_prompt_id'), sessionId: id('session_id') }
}

/** The body the relay sends for a Code Assist method, from validated parts and the account's project (onboardUser is answered locally). */
export function internalBody(method: InternalMethod, parts: InternalParts, project: string): Json {
  switch (method) {
    case 'generateContent':
    case 'streamGenerateContent':
      return {
        model: parts.model, project,
        ...(parts.userPromptId ? { user_prompt_id: parts.userPromptId } : {}),
        ...(parts.sessionId ? { session_id: parts.sessionId } : {}),
        request: parts.request,
      }
    case 'countTokens': return { request: { ...parts.request, model: `models/${parts.model}` } }
    case 'loadCodeAssist': return { cloudaicompanionProject: project, metadata: { ...METADATA, duetProject: project } }
    case 'listExperiments': return { project, metadata: METADATA }
    default: return { project }
  }
}

/**
 * The relay's own answer to a client's onboardUser: the account is already onboarded (by
 * `projectFor`, on its default tier), so the client learns its project and never picks a tier.
 */
export const onboardedAnswer = (project: string): Json => ({
  name: 'operations/relay-onboarded', done: true,
  response: { '@type': 'type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse', 'cloudaicompanionProject': { id: project, name: project } },
})

const MAX_TRANSLATED_EVENT = 16 * 1024 * 1024

/**
 * Turns Code Assist's SSE (`data: {"response": …, "traceId": …}`) back into the standard API's
 * shape: SSE of the bare responses, or a JSON array stream as Google sends without `alt=sse`.
 */
export class CodeAssistUnwrapper {
  private readonly reader: SseReader
  private first = true

  constructor(private readonly target: 'sse' | 'array', private readonly write: (s: string) => void) {
    // An event is re-wrapped whole, so one is held at most MAX_TRANSLATED_EVENT bytes; a bigger
    // one becomes a Google-shaped error in the stream instead of unbounded memory.
    this.reader = new SseReader(p => this.emit(p), MAX_TRANSLATED_EVENT, () => this.emit(googleErrorBody(502, 'An upstream event was too large to relay.')))
  }

  push(chunk: Buffer): void {
    this.reader.push(chunk)
  }

  end(): void {
    this.reader.end()
    if (this.target === 'array') this.write(this.first ? '[]' : ']')
  }

  private emit(payload: string): void {
    let out = payload
    try {
      const o = JSON.parse(payload) as Json
      if (o && typeof o === 'object' && 'response' in o) out = JSON.stringify(o.response)
    }
    catch { /* pass through as is */ }
    if (this.target === 'sse') return this.write(`data: ${out}\r\n\r\n`)
    this.write(this.first ? `[${out}` : `\r\n,${out}`)
    this.first = false
  }
}

/** A non-stream Code Assist answer unwrapped (`response`), or the body as is. */
export function unwrapJson(body: Buffer): Buffer {
  try {
    const o = JSON.parse(body.toString('utf8')) as Json
    if (o && typeof o === 'object' && o.response && typeof o.response === 'object') return Buffer.from(JSON.stringify(o.response))
  }
  catch { /* as is */ }
  return body
}
