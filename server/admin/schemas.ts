import { z } from 'zod'
import { ACCOUNT_CLIENTS, type AccountClients } from '../accounts/store'
import { CLIENT_IDS, type ClientId } from '../keys/access'
import { parseProxyUrl } from '../upstream/proxy-url'

/** Route params `:id` (uuid). */
export const IdParamsSchema = z.object({ id: z.string().uuid({ error: 'id must be a UUID' }) })

const isoDate = z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-31T00:00:00Z' })

const nonNeg = (what: string) => z.number({ error: `${what} must be a number` }).min(0, `${what} must be 0 (off) or more`)
const count = (what: string) => nonNeg(what).int(`${what} must be a whole number`)
const list = (max: number, item: z.ZodString) => z.array(item).max(max)

// The search index keeps "name<TAB>tag,tag": names carry no control characters, tags no commas.
const apiKeyFields = z.object({
  name: z.string().trim().min(1, 'name is required').max(100).regex(/^[^\p{Cc}]*$/u, 'name must not contain control characters'),
  description: z.string().max(500).optional(),
  tags: list(20, z.string().trim().min(1).max(50).regex(/^[^,\p{Cc}]*$/u, 'tags must not contain commas or control characters')).optional(),
  isActive: z.boolean().optional(),
  expiresAt: isoDate.nullable().optional(),
  activationDays: count('activationDays').max(3650).optional(),
  permissions: z.enum(['all', 'claude', 'gemini'], { error: 'permissions must be all, claude or gemini' }).optional(),
  allowedModels: list(100, z.string().trim().min(1).max(200)).optional(),
  blockedModels: list(100, z.string().trim().min(1).max(200)).optional(),
  allowedClients: z.array(z.enum(CLIENT_IDS as [ClientId, ...ClientId[]], { error: `allowedClients entries must be one of ${CLIENT_IDS.join(', ')}` })).max(20).optional(),
  rateLimitWindow: count('rateLimitWindow (minutes)').max(525_600).optional(),
  rateLimitRequests: count('rateLimitRequests').optional(),
  rateLimitTokens: count('rateLimitTokens').optional(),
  rateLimitCost: nonNeg('rateLimitCost (USD)').optional(),
  concurrencyLimit: count('concurrencyLimit').max(10_000).optional(),
  dailyCostLimit: nonNeg('dailyCostLimit (USD)').optional(),
  weeklyCostLimit: nonNeg('weeklyCostLimit (USD)').optional(),
  totalCostLimit: nonNeg('totalCostLimit (USD)').optional(),
  tokenLimit: count('tokenLimit').optional(),
  claudeAccountId: z.string().uuid('claudeAccountId must be an account id (UUID)').nullable().optional(),
  geminiAccountId: z.string().uuid('geminiAccountId must be an account id (UUID)').nullable().optional(),
  dedicatedFallback: z.boolean({ error: 'dedicatedFallback must be true or false' }).optional(),
}).strict()

export const ApiKeyCreateSchema = apiKeyFields.superRefine((k, ctx) => {
  if ((k.rateLimitRequests || k.rateLimitTokens || k.rateLimitCost) && !k.rateLimitWindow) {
    ctx.addIssue({ code: 'custom', path: ['rateLimitWindow'], message: 'rateLimitWindow (minutes) is required when a window limit is set' })
  }
})

// On update the window rule is checked against the merged settings (api-keys/[id].put.ts).
export const ApiKeyUpdateSchema = apiKeyFields.partial()

export const ApiKeyListQuerySchema = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  q: z.string().trim().max(100).optional(),
  tag: z.string().trim().max(50).optional(),
  sort: z.enum(['createdAt', 'name']).default('createdAt'),
  order: z.enum(['asc', 'desc']).default('desc'),
})

const proxySchema = z.string().nullable().superRefine((v, ctx) => {
  if (v === null) return
  try {
    parseProxyUrl(v)
  }
  catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

const httpUrl = z.string().url().refine(u => /^https?:\/\//.test(u), 'must be an http(s) URL').transform(u => u.replace(/\/+$/, ''))

const accountFields = {
  name: z.string().trim().min(1, 'name is required').max(100),
  description: z.string().max(500).optional(),
  priority: z.number().int().min(0).max(1000).optional(),
  isActive: z.boolean().optional(),
  accountType: z.enum(['shared', 'dedicated'], { error: 'accountType must be shared (the pool) or dedicated (only keys bound to it)' }).optional(),
  proxy: proxySchema.optional(),
}

const consoleFields = {
  apiUrl: httpUrl,
  apiKey: z.string().trim().min(1, 'apiKey is required'),
}

/** Tokens imported from elsewhere (e.g. a Claude Code credentials file): expiresAt as ISO or ms. */
const oauthImportFields = {
  refreshToken: z.string().trim().min(1, 'refreshToken is required'),
  accessToken: z.string().trim().min(1).optional(),
  expiresAt: z.union([isoDate.transform(s => Date.parse(s)), z.number().int().min(0)]).optional(),
  scopes: z.array(z.string().min(1).max(100)).max(50).optional(),
  apiUrl: httpUrl.optional(),
}

/** Which clients a Claude account serves (absent: the default of its type, see store.defaultClients). */
const clients = z.enum(ACCOUNT_CLIENTS as [AccountClients, ...AccountClients[]], {
  error: 'clients must be "claude-code" (Claude Code only, as Anthropic requires of subscription tokens) or "any" (every client)',
})

/**
 * The long-lived token `claude setup-token` prints (inference scope, about a year, no refresh
 * token); its expiry when the admin knows it (ISO or ms), else unknown.
 */
const setupTokenFields = {
  accessToken: z.string().trim().min(1, 'accessToken is required: the token `claude setup-token` printed').max(4096)
    .regex(/^[\x21-\x7e]+$/, 'accessToken must be the token alone (printable characters, no spaces)'),
  expiresAt: oauthImportFields.expiresAt,
  apiUrl: httpUrl.optional(),
}

export const ClaudeAccountCreateSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('console'), ...accountFields, ...consoleFields, clients: clients.optional() }).strict(),
  z.object({ type: z.literal('oauth'), ...accountFields, ...oauthImportFields, clients: clients.optional() }).strict(),
  z.object({ type: z.literal('setup-token'), ...accountFields, ...setupTokenFields, clients: clients.optional() }).strict(),
], { error: 'type must be "console" (an Anthropic API key), "oauth" (imported subscription tokens; or use generate-auth-url) or "setup-token" (the long-lived token of `claude setup-token`)' })

export const ClaudeAccountUpdateSchema = z.object({ ...accountFields, ...consoleFields, clients }).partial().strict()

const projectId = z.string().trim().min(1).max(200).regex(/^[\w.:-]+$/, 'projectId must be a Google Cloud project id').nullable()
const geminiApiKeyFields = { apiKey: z.string().trim().min(1, 'apiKey is required'), baseUrl: httpUrl.optional() }

export const GeminiAccountCreateSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('api-key'), ...accountFields, ...geminiApiKeyFields }).strict(),
  z.object({ type: z.literal('oauth'), ...accountFields, ...oauthImportFields, apiUrl: z.never().optional(), projectId: projectId.optional() }).strict(),
], { error: 'type must be "api-key" (a Gemini API key) or "oauth" (imported Google tokens, e.g. oauth_creds.json; or use generate-auth-url)' })

export const GeminiAccountUpdateSchema = z.object({ ...accountFields, ...geminiApiKeyFields, projectId }).partial().strict()

export const GenerateAuthUrlSchema = z.object({ proxy: proxySchema.optional() }).strict()

const ExchangeCodeSchemaBase = z.object({
  sessionId: z.string().min(1).max(200),
  code: z.string().trim().min(1, 'code is required: the Authorization Code, code#state, or the whole callback URL').max(4000),
  ...accountFields,
})

export const ExchangeCodeSchema = ExchangeCodeSchemaBase.extend({ clients: clients.optional() }).strict()

export const GeminiExchangeCodeSchema = ExchangeCodeSchemaBase.extend({ projectId: projectId.optional() }).strict()

export { validate } from './validation'

export const LoginSchema = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(1000) })

export const PasswordSchema = z.object({
  currentPassword: z.string().min(1, 'currentPassword is required').max(1000),
  newPassword: z.string().min(8, 'newPassword must be at least 8 characters').max(1000),
}).strict()

export const ProxyTestSchema = z.object({
  proxy: z.string().min(1).max(2000),
  target: z.enum(['claude', 'gemini']).optional().meta({ description: 'Where to connect through it (default: Claude\'s API).' }),
}).strict()

const logLevel = z.enum(['debug', 'info', 'warn', 'error']).optional()

/** Query of the log list: the newest `limit` lines at `level` or above. */
export const LogQuerySchema = z.object({ level: logLevel, limit: z.coerce.number().int().min(1).max(1000).default(200) })

/** Query of the live log tail: the last `tail` lines, then each new one. */
export const LogStreamQuerySchema = z.object({ level: logLevel, tail: z.coerce.number().int().min(0).max(1000).default(100) })
