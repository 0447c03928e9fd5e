import type { z } from 'zod'
import type { AccountInput } from '../accounts/store'
import { oauthFromTokens } from '../accounts/oauth-refresh'
import type { ClaudeAccountCreateSchema, GeminiAccountCreateSchema } from './schemas'

// A validated create body as account fields: shared by the admin API and the CLI, so both accept
// and store exactly the same.

/** Imported tokens as an account's OAuth fields (no access token: refreshed before first use). */
const imported = (b: { accessToken?: string, refreshToken: string, expiresAt?: number, scopes?: string[] }) =>
  oauthFromTokens({ accessToken: b.accessToken ?? '', refreshToken: b.refreshToken, expiresAt: b.accessToken ? (b.expiresAt ?? 0) : 0, scopes: b.scopes ?? [] })

export function claudeAccountInput(b: z.output<typeof ClaudeAccountCreateSchema>): AccountInput {
  if (b.type === 'console') return b
  const common = { name: b.name, description: b.description, priority: b.priority, isActive: b.isActive, accountType: b.accountType, proxy: b.proxy, clients: b.clients, apiUrl: b.apiUrl }
  // A setup token is used as is until it expires (no refresh token: never refreshed).
  return b.type === 'setup-token'
    ? { ...common, type: 'setup-token', oauth: oauthFromTokens({ accessToken: b.accessToken, refreshToken: '', expiresAt: b.expiresAt ?? 0, scopes: ['user:inference'] }) }
    : { ...common, type: 'oauth', oauth: imported(b) }
}

export function geminiAccountInput(b: z.output<typeof GeminiAccountCreateSchema>): AccountInput {
  const common = { name: b.name, description: b.description, priority: b.priority, isActive: b.isActive, accountType: b.accountType, proxy: b.proxy }
  return b.type === 'api-key'
    ? { ...common, type: 'api-key', apiKey: b.apiKey, apiUrl: b.baseUrl ?? '' }
    : { ...common, type: 'oauth', projectId: b.projectId ?? null, oauth: imported(b) }
}
