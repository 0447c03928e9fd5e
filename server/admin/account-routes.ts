import { createError, defineEventHandler, getValidatedRouterParams, readValidatedBody, setResponseStatus } from 'h3'
import type { z } from 'zod'
import { type AccountInput, claudeAccounts, geminiAccounts } from '../accounts'
import { oauthFromTokens } from '../accounts/oauth-refresh'
import { useConfig } from '../config'
import { exchangeCode, generateAuthUrl } from '../oauth'
import type { ProviderId } from '../oauth/providers'
import { useRedis } from '../store/redis'
import { claudeAccountInput, geminiAccountInput } from './account-input'
import { asHttpError } from './http-errors'
import {
  ClaudeAccountCreateSchema, ClaudeAccountUpdateSchema, ExchangeCodeSchema, GeminiAccountCreateSchema, GeminiAccountUpdateSchema,
  GeminiExchangeCodeSchema, GenerateAuthUrlSchema, IdParamsSchema, validate,
} from './schemas'
import { requireAdmin } from './guard'

type Service = typeof claudeAccounts

interface Spec<C extends z.ZodType, U extends z.ZodType, E extends z.ZodType> {
  service: Service
  label: string
  provider: ProviderId
  create: C
  update: U
  exchange: E
  /** A validated create body as account fields. */
  fromCreate: (body: z.output<C>) => AccountInput
  fromUpdate: (body: z.output<U>) => Partial<AccountInput>
}

/**
 * The admin routes of one platform's accounts (list, get, create, update, delete, reset-state,
 * refresh, generate-auth-url, exchange-code); each route file exports one of these handlers.
 */
function accountRoutes<C extends z.ZodType, U extends z.ZodType, E extends z.ZodType>(spec: Spec<C, U, E>) {
  const { service, label } = spec
  const notFound = (id: string) => createError({ statusCode: 404, message: `${label} account ${id} not found.` })
  const idOf = async (event: Parameters<typeof requireAdmin>[0]) => {
    await requireAdmin(event)
    return (await getValidatedRouterParams(event, validate(IdParamsSchema))).id
  }
  return {
    list: defineEventHandler(async (event) => {
      await requireAdmin(event)
      const accounts = await service.list()
      return { items: accounts.map(service.toView), total: accounts.length }
    }),
    get: defineEventHandler(async (event) => {
      const id = await idOf(event)
      const account = await service.get(id)
      if (!account) throw notFound(id)
      return service.toView(account)
    }),
    create: defineEventHandler(async (event) => {
      await requireAdmin(event)
      const body = await readValidatedBody(event, validate(spec.create))
      const account = await service.create(spec.fromCreate(body))
      setResponseStatus(event, 201)
      return service.toView(account)
    }),
    update: defineEventHandler(async (event) => {
      const id = await idOf(event)
      const patch = await readValidatedBody(event, validate(spec.update))
      const account = await service.update(id, spec.fromUpdate(patch))
      if (!account) throw notFound(id)
      return service.toView(account)
    }),
    remove: defineEventHandler(async (event) => {
      const id = await idOf(event)
      if (!await service.remove(id)) throw notFound(id)
      return { ok: true }
    }),
    // Put an account back into the pool now (it was rate limited, overloaded, blocked, …).
    resetState: defineEventHandler(async (event) => {
      const id = await idOf(event)
      if (!await service.get(id)) throw notFound(id)
      await service.setState(id, null)
      return service.toView((await service.get(id))!)
    }),
    // Refresh an OAuth account's token now (through its proxy); the new expiry comes back.
    refresh: defineEventHandler(async (event) => {
      const id = await idOf(event)
      const account = await service.get(id)
      if (!account) throw notFound(id)
      if (account.type !== 'oauth') {
        throw createError({ statusCode: 400, message: account.type === 'setup-token' ? 'A setup token cannot be refreshed: add a new one from `claude setup-token` when it expires.' : 'Only OAuth accounts have a token to refresh.' })
      }
      await service.ensureFreshToken(account, { force: true }).catch((err) => {
        throw asHttpError(err)
      })
      return service.toView((await service.get(id))!)
    }),
    // Step 1 of adding a subscription: a PKCE authorization URL for the admin to open.
    generateAuthUrl: defineEventHandler(async (event) => {
      await requireAdmin(event)
      const { proxy } = await readValidatedBody(event, validate(GenerateAuthUrlSchema))
      const r = await generateAuthUrl(useRedis(), useConfig(), { provider: spec.provider, proxy }).catch((err) => {
        throw asHttpError(err)
      })
      return { authUrl: r.authUrl, sessionId: r.sessionId, expiresAt: new Date(r.expiresAt).toISOString() }
    }),
    // Step 2: the pasted code (bare, code#state or the callback URL) becomes an OAuth account.
    exchangeCode: defineEventHandler(async (event) => {
      await requireAdmin(event)
      const { sessionId, code, proxy, ...fields } = await readValidatedBody(event, validate(spec.exchange)) as z.output<typeof ExchangeCodeSchema> & { projectId?: string | null }
      const tokens = await exchangeCode(useRedis(), useConfig(), { sessionId, code, provider: spec.provider }).catch((err) => {
        throw asHttpError(err)
      })
      const account = await service.create({ ...fields, type: 'oauth', proxy: proxy === undefined ? tokens.proxy : proxy, oauth: oauthFromTokens(tokens) })
      setResponseStatus(event, 201)
      return service.toView(account)
    }),
  }
}

export const claudeAccountRoutes = accountRoutes({
  service: claudeAccounts, label: 'Claude', provider: 'claude',
  create: ClaudeAccountCreateSchema, update: ClaudeAccountUpdateSchema, exchange: ExchangeCodeSchema,
  fromCreate: claudeAccountInput,
  fromUpdate: b => b,
})

export const geminiAccountRoutes = accountRoutes({
  service: geminiAccounts, label: 'Gemini', provider: 'google',
  create: GeminiAccountCreateSchema, update: GeminiAccountUpdateSchema, exchange: GeminiExchangeCodeSchema,
  fromCreate: geminiAccountInput,
  fromUpdate: ({ baseUrl, ...rest }) => ({ ...rest, ...(baseUrl !== undefined ? { apiUrl: baseUrl } : {}) }),
})
