import type { IncomingMessage } from 'node:http'
import { claudeAccounts, geminiAccounts } from '../../accounts'
import type { ApiKeyRecord } from '../../keys'
import { checkAccess } from '../../keys/access'
import { authenticate } from '../../relay/steps'
import { pricedModels } from '../../usage/models'
import { OpenAIError, openaiFail } from './errors'

const PLATFORMS = [
  { platform: 'claude', prefix: 'claude-', owner: 'anthropic', accounts: claudeAccounts },
  { platform: 'gemini', prefix: 'gemini-', owner: 'google', accounts: geminiAccounts },
] as const

/**
 * The models a key may use through chat completions: of each platform it may reach (its
 * permissions and client restriction) and that has an active account able to serve it, the
 * priced models its model lists allow.
 */
async function allowedModels(key: ApiKeyRecord, userAgent: string | undefined) {
  const out: { id: string, object: 'model', created: number, owned_by: string }[] = []
  for (const p of PLATFORMS) {
    if (checkAccess({ ...key, allowedModels: [], blockedModels: [] }, p.platform, '', userAgent)) continue
    // Claude accounts serve translated requests only when they accept any client (not Claude Code only).
    if (!(await p.accounts.all()).some(a => a.isActive && (p.platform !== 'claude' || a.clients === 'any'))) continue
    for (const id of pricedModels(p.prefix)) {
      if (!checkAccess(key, p.platform, id, userAgent)) out.push({ id, object: 'model', created: 0, owned_by: p.owner })
    }
  }
  return out
}

/** `GET /openai/v1/models`: OpenAI's list shape. */
export async function openaiModelList(req: IncomingMessage) {
  const key = await authenticate(req, openaiFail)
  return { object: 'list', data: await allowedModels(key, req.headers['user-agent']) }
}

/** `GET /openai/v1/models/{id}`: one model, or 404 `model_not_found`. */
export async function openaiModel(req: IncomingMessage, id: string) {
  const key = await authenticate(req, openaiFail)
  const model = (await allowedModels(key, req.headers['user-agent'])).find(m => m.id === id)
  if (!model) throw new OpenAIError(404, 'invalid_request_error', `The model \`${id.slice(0, 100)}\` does not exist or this API key may not use it.`, 'model_not_found', {}, 'model')
  return model
}
