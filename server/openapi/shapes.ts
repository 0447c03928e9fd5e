import { z } from 'zod'

// Answer shapes the route handlers return without a zod schema of their own. Each `id` makes it
// a component (#/components/schemas/<id>); the error shapes mirror the protocols' error modules.

/** h3's `createError` JSON, as every admin route answers a failure (`data.fields` on a 400 from validation). */
export const AdminError = z.object({
  statusCode: z.number().int(),
  statusMessage: z.string().optional(),
  message: z.string(),
  data: z.object({ fields: z.array(z.object({ field: z.string(), message: z.string() })) }).optional()
    .meta({ description: 'On a 400 from validation: each invalid field (`""` for the body as a whole).' }),
}).meta({ id: 'AdminError', description: 'h3 error (createError): statusCode, message, and structured data.' })

/** server/protocols/anthropic/errors.ts */
export const AnthropicError = z.object({
  type: z.literal('error'),
  error: z.object({
    type: z.enum(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'request_too_large', 'rate_limit_error', 'api_error', 'overloaded_error', 'timeout_error']),
    message: z.string(),
  }),
}).meta({ id: 'AnthropicError', description: 'Anthropic\'s error shape.' })

/** server/protocols/gemini/errors.ts */
export const GoogleError = z.object({
  error: z.object({ code: z.number().int(), message: z.string(), status: z.string().meta({ description: 'Google\'s canonical status, e.g. INVALID_ARGUMENT, RESOURCE_EXHAUSTED.' }) }),
}).meta({ id: 'GoogleError', description: 'Google\'s error shape.' })

/** server/protocols/openai/chunks.ts errorBody */
export const OpenAIError = z.object({
  error: z.object({ message: z.string(), type: z.string(), param: z.string().nullable(), code: z.string().nullable() }),
}).meta({ id: 'OpenAIError', description: 'OpenAI\'s error shape.' })

export const Ok = z.object({ ok: z.literal(true) }).meta({ id: 'Ok' })

/** The admin view of an API key (server/keys/records.ts ApiKeyView; the unit test checks they agree). */
export const ApiKeyView = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  isActive: z.boolean(),
  expiresAt: z.string().nullable(),
  activationDays: z.number(),
  permissions: z.enum(['all', 'claude', 'gemini']),
  allowedModels: z.array(z.string()),
  blockedModels: z.array(z.string()),
  allowedClients: z.array(z.string()),
  rateLimitWindow: z.number(),
  rateLimitRequests: z.number(),
  rateLimitTokens: z.number(),
  rateLimitCost: z.number(),
  concurrencyLimit: z.number(),
  dailyCostLimit: z.number(),
  weeklyCostLimit: z.number(),
  totalCostLimit: z.number(),
  tokenLimit: z.number(),
  claudeAccountId: z.string().nullable(),
  geminiAccountId: z.string().nullable(),
  dedicatedFallback: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastUsedAt: z.string().nullable(),
  activatedAt: z.string().nullable(),
}).meta({ id: 'ApiKeyView', description: 'An API key as admins see it (never the key itself, nor its hash).' })

export const ApiKeyCreated = ApiKeyView.extend({ apiKey: z.string().meta({ description: 'The plaintext `cr_…` key, returned this once.' }) })
  .meta({ id: 'ApiKeyCreated' })

export const ApiKeyList = z.object({ items: z.array(ApiKeyView), total: z.number().int(), offset: z.number().int(), limit: z.number().int() })
  .meta({ id: 'ApiKeyList' })

/** server/accounts/store.ts toAccountView plus the scheduler's health; the runtime parts stay open objects. */
export const AccountView = z.object({
  id: z.string(),
  platform: z.enum(['claude', 'gemini']),
  type: z.enum(['console', 'oauth', 'api-key']),
  name: z.string(),
  description: z.string(),
  priority: z.number(),
  isActive: z.boolean(),
  accountType: z.enum(['shared', 'dedicated']),
  apiUrl: z.string().optional().meta({ description: 'Claude accounts (empty: CLAUDE_API_URL).' }),
  clients: z.enum(['claude-code', 'any']).optional().meta({ description: 'Claude accounts: which clients it serves.' }),
  baseUrl: z.string().optional().meta({ description: 'Gemini accounts (empty: GEMINI_API_URL).' }),
  projectId: z.string().nullable().optional().meta({ description: 'Gemini OAuth accounts: the Code Assist project.' }),
  proxy: z.string().nullable().meta({ description: 'The proxy URL without its password.' }),
  apiKeyPreview: z.string().nullable(),
  oauth: z.object({ expiresAt: z.string().nullable(), scopes: z.array(z.string()), email: z.string().nullable(), organization: z.string().nullable() }).nullable(),
  status: z.looseObject({ state: z.string() }).meta({ description: 'The effective runtime state (active, rate_limited, overloaded, cooldown, error, blocked) and until when.' }),
  sessionWindow: z.looseObject({}).nullable(),
  health: z.looseObject({}).meta({ description: 'Recent request outcomes and latency, from the scheduler.' }),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastUsedAt: z.string().nullable(),
}).meta({ id: 'AccountView', description: 'An upstream account as admins see it: never a key or token.' })

export const AccountList = z.object({ items: z.array(AccountView), total: z.number().int() }).meta({ id: 'AccountList' })

export const AuthUrl = z.object({ authUrl: z.string(), sessionId: z.string(), expiresAt: z.string() })
  .meta({ id: 'AuthUrl', description: 'Step 1 of OAuth onboarding: open authUrl, then POST the code to exchange-code with sessionId.' })

/** An answer whose shape the handler builds from engine types: documented by description, left open. */
export const open = (description: string) => z.looseObject({}).meta({ description })
