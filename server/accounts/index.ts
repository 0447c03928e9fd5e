import { createAccountService } from './service'

export type { Account, AccountClients, AccountInput, AccountOAuth, ClaudeAccount, ClaudeAccountInput, ClaudeOAuth, Platform } from './store'
export type { DedicatedBinding } from './service'
export type { Exclusion } from './unavailable'

/** Claude accounts (Console API keys and Pro/Max OAuth subscriptions). */
export const claudeAccounts = createAccountService('claude')

/** Gemini accounts (Google OAuth for Code Assist, and Gemini API keys). */
export const geminiAccounts = createAccountService('gemini')
