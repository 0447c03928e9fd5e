import type { ApiKeyRecord, Permission } from './records'

/** Clients a key can be restricted to, recognised by their user agent. */
const CLIENTS = {
  claude_code: /^claude-cli\/|claude-code/i,
  gemini_cli: /^GeminiCLI\//i,
  anthropic_sdk: /^Anthropic\/(JS|Python|Go|Java)/i,
  openai_sdk: /^OpenAI\/(JS|Python|Go|Java)/i,
  google_genai_sdk: /google-genai-sdk/i,
  sillytavern: /SillyTavern/i,
} as const

export type ClientId = keyof typeof CLIENTS
export const CLIENT_IDS = Object.keys(CLIENTS) as ClientId[]

/** Which known client sent the request, from its user agent (null when unknown). */
export function detectClient(userAgent: string | undefined): ClientId | null {
  if (!userAgent) return null
  for (const id of CLIENT_IDS) if (CLIENTS[id].test(userAgent)) return id
  return null
}

const globCache = new Map<string, RegExp>()

/** `*` matches any run of characters; everything else is literal; case-insensitive. */
export function globMatch(pattern: string, value: string): boolean {
  let re = globCache.get(pattern)
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map(p => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i')
    if (globCache.size < 10_000) globCache.set(pattern, re)
  }
  return re.test(value)
}

/** A refusal for a request the key is not allowed to make (always 403). */
export interface AccessDenial { status: 403, message: string }

/**
 * Check platform permission, client and model against the key — pure, no Redis. Returns null
 * when allowed. The model allow-list is a real allow-list: with entries, nothing else passes.
 */
export function checkAccess(k: ApiKeyRecord, platform: Exclude<Permission, 'all'>, model: string, userAgent: string | undefined): AccessDenial | null {
  if (k.permissions !== 'all' && k.permissions !== platform) {
    return { status: 403, message: `This API key may only be used for ${k.permissions}, not ${platform}.` }
  }
  if (k.allowedClients.length) {
    const client = detectClient(userAgent)
    if (!client || !k.allowedClients.includes(client)) {
      return { status: 403, message: `This API key is restricted to these clients: ${k.allowedClients.join(', ')}.` }
    }
  }
  if (k.allowedModels.length && !k.allowedModels.some(p => globMatch(p, model))) {
    return { status: 403, message: `Model ${model} is not allowed for this API key (allowed: ${k.allowedModels.join(', ')}).` }
  }
  if (k.blockedModels.some(p => globMatch(p, model))) {
    return { status: 403, message: `Model ${model} is blocked for this API key.` }
  }
  return null
}
