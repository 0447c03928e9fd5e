import { z } from 'zod'
import type { ZodOpenApiPathsObject } from 'zod-openapi'
import { PriceOverrideSchema, PricingListQuerySchema, PricingModelParamsSchema } from '../admin/pricing-schemas'
import {
  ApiKeyCreateSchema, ApiKeyListQuerySchema, ApiKeyUpdateSchema, ClaudeAccountCreateSchema, ClaudeAccountUpdateSchema,
  ExchangeCodeSchema, GeminiAccountCreateSchema, GeminiAccountUpdateSchema, GeminiExchangeCodeSchema, GenerateAuthUrlSchema,
  IdParamsSchema, LoginSchema, LogQuerySchema, LogStreamQuerySchema, PasswordSchema, ProxyTestSchema,
} from '../admin/schemas'
import { BreakdownQuerySchema, CacheQuerySchema, KeyUsageQuerySchema, LostQuerySchema, RangeQuerySchema, TrendQuerySchema } from '../admin/usage-schemas'
import { type Family, operation, type OperationSpec, type Security } from './operations'
import { AccountList, AccountView, AdminError, ApiKeyCreated, ApiKeyList, ApiKeyView, AuthUrl, Ok, open } from './shapes'

/** Admin routes: the session token as Bearer or cookie; errors are h3's (server/admin/guard.ts). */
export const ADMIN_SECURITY: Security = [{ adminBearer: [] }, { adminCookie: [] }]

const family = (tag: string): Family => ({ tag, security: ADMIN_SECURITY, error: AdminError, statuses: [401] })
const op = (tag: string, s: OperationSpec) => operation(family(tag), s)
// server/middleware/admin-guard.ts: a cookie-authenticated write from another origin → 403, a body
// over the bound → 413, one that is not JSON → 415.
const write = (tag: string, s: OperationSpec) => op(tag, { ...s, also: [403, 413, 415, ...(s.also ?? [])] })

const sse = { description: 'Server-sent events: one JSON log line per `data:`', content: { 'text/event-stream': { schema: z.string() } } }

/** The routes of one platform's accounts (server/admin/account-routes.ts serves both the same way). */
function accountPaths(platform: 'claude' | 'gemini', create: z.ZodType, update: z.ZodType, exchange: z.ZodType): ZodOpenApiPathsObject {
  const tag = `admin: ${platform} accounts`
  const base = `/api/admin/${platform}-accounts`
  const byId = { path: IdParamsSchema, also: [404] }
  return {
    [base]: {
      get: op(tag, { summary: `List ${platform} accounts`, ok: AccountList }),
      post: write(tag, { summary: `Add a ${platform} account (API key, or imported OAuth tokens)`, body: create, ok: AccountView, status: 201 }),
    },
    [`${base}/{id}`]: {
      get: op(tag, { summary: 'One account', ...byId, ok: AccountView }),
      put: write(tag, { summary: 'Change an account', ...byId, body: update, ok: AccountView }),
      delete: write(tag, { summary: 'Delete an account', ...byId, ok: Ok }),
    },
    [`${base}/{id}/refresh`]: { post: write(tag, { summary: 'Refresh an OAuth account\'s token now', ...byId, ok: AccountView, also: [404, 502] }) },
    [`${base}/{id}/reset-state`]: { post: write(tag, { summary: 'Put the account back into the pool now', ...byId, ok: AccountView }) },
    [`${base}/generate-auth-url`]: { post: write(tag, { summary: 'OAuth step 1: a PKCE authorization URL', body: GenerateAuthUrlSchema, ok: AuthUrl }) },
    [`${base}/exchange-code`]: { post: write(tag, { summary: 'OAuth step 2: the pasted code becomes an account', body: exchange, ok: AccountView, status: 201, also: [502] }) },
  }
}

const keys = 'admin: api keys'
const usage = 'admin: usage'
const system = 'admin: system'

/** Every route under /api/admin. */
export const adminPaths: ZodOpenApiPathsObject = {
  '/api/admin/auth/login': {
    post: write('admin: auth', {
      summary: 'Log in: a session token (also set as an HttpOnly cookie)', security: [], body: LoginSchema,
      ok: z.object({ token: z.string(), expiresAt: z.number().meta({ description: 'ms since the epoch' }) }), also: [429],
    }),
  },
  '/api/admin/auth/logout': { post: write('admin: auth', { summary: 'Revoke this session', ok: Ok }) },
  '/api/admin/auth/me': { get: op('admin: auth', { summary: 'Who is logged in', ok: z.object({ username: z.string() }) }) },
  '/api/admin/auth/password': {
    post: write('admin: auth', { summary: 'Change the password (ends the admin\'s other sessions)', body: PasswordSchema, ok: z.object({ ok: z.literal(true), sessionsEnded: z.number().int() }) }),
  },
  '/api/admin/api-keys': {
    get: op(keys, { summary: 'List, page and search API keys', query: ApiKeyListQuerySchema, ok: ApiKeyList }),
    post: write(keys, { summary: 'Create an API key (the plaintext key is returned once)', body: ApiKeyCreateSchema, ok: ApiKeyCreated, status: 201 }),
  },
  '/api/admin/api-keys/{id}': {
    get: op(keys, { summary: 'One API key', path: IdParamsSchema, ok: ApiKeyView, also: [404] }),
    put: write(keys, { summary: 'Change an API key', path: IdParamsSchema, body: ApiKeyUpdateSchema, ok: ApiKeyView, also: [404] }),
    delete: write(keys, { summary: 'Delete an API key', path: IdParamsSchema, ok: Ok, also: [404] }),
  },
  '/api/admin/api-keys/{id}/usage': {
    get: op(keys, { summary: 'A key\'s usage per day and model, recent requests, live limit state', path: IdParamsSchema, query: KeyUsageQuerySchema, ok: open('{ id, usage, recent, state }'), also: [404] }),
  },
  ...accountPaths('claude', ClaudeAccountCreateSchema, ClaudeAccountUpdateSchema, ExchangeCodeSchema),
  ...accountPaths('gemini', GeminiAccountCreateSchema, GeminiAccountUpdateSchema, GeminiExchangeCodeSchema),
  '/api/admin/dashboard': { get: op(usage, { summary: 'Today and all-time usage, RPM/TPM, keys, accounts by state, newest lost requests, the subscriptions\' 5-hour pool headroom', ok: open('{ usage, keys, lost, poolHeadroom, accounts }') }) },
  '/api/admin/usage/trend': { get: op(usage, { summary: 'Hourly or daily series of all usage, or of one key, account or model', query: TrendQuerySchema, ok: open('{ granularity, dimension, id, series }') }) },
  '/api/admin/usage/breakdown': { get: op(usage, { summary: 'Usage per key, account or model over a range', query: BreakdownQuerySchema, ok: open('{ by, from, to, items }') }) },
  '/api/admin/usage/cache': { get: op(usage, { summary: 'The prompt-cache ledger per account or model: reads, 5m/1h writes, uncached input, hit rate, USD saved (all time without `from`)', query: CacheQuerySchema, ok: open('{ by, items }') }) },
  '/api/admin/usage/cache-trend': { get: op(usage, { summary: 'Hourly or daily series of the global prompt-cache ledger', query: RangeQuerySchema, ok: open('{ granularity, series }') }) },
  '/api/admin/usage/lost': { get: op(usage, { summary: 'Requests admitted by an instance that died before recording them', query: LostQuerySchema, ok: open('The newest lost requests') }) },
  '/api/admin/pricing': { get: op(usage, { summary: 'The price table (LiteLLM fields, USD per token) with overrides', query: PricingListQuerySchema, ok: open('Models and their prices') }) },
  '/api/admin/pricing/{model}': {
    put: write(usage, {
      summary: 'Set a model\'s price override', description: 'The model id may contain `/` (sent as is or as %2F).',
      path: PricingModelParamsSchema, body: PriceOverrideSchema, ok: open('The model\'s price after the override'),
    }),
    delete: write(usage, { summary: 'Remove a model\'s price override', path: PricingModelParamsSchema, ok: Ok, also: [404] }),
  },
  '/api/admin/pricing/reload': { post: write(usage, { summary: 'Reload the shipped price table', ok: open('The reloaded table\'s summary') }) },
  '/api/admin/logs': { get: op(system, { summary: 'The newest log lines (redacted), oldest first', query: LogQuerySchema, ok: z.object({ lines: z.array(z.looseObject({})) }) }) },
  '/api/admin/logs/stream': { get: op(system, { summary: 'Live log tail', query: LogStreamQuerySchema, ok: sse }) },
  '/api/admin/proxy-test': {
    post: write(system, {
      summary: 'Open one connection through a proxy (TCP, handshake, TLS)', body: ProxyTestSchema,
      ok: z.object({ ok: z.boolean(), ms: z.number(), proxy: z.string(), target: z.string(), error: z.string().optional() }),
    }),
  },
  '/api/admin/system': { get: op(system, { summary: 'Version, uptime, Node, Redis and connection pools', ok: open('{ version, uptime, node, status, redis, connectionPools }') }) },
}
