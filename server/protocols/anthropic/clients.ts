import { type Account, claudeAccounts, type Exclusion } from '../../accounts'
import { detectClient } from '../../keys/access'

/** Whether a request comes from Claude Code, by its user agent (the same test as a key's client restriction). */
export const isClaudeCode = (userAgent: string | undefined): boolean => detectClient(userAgent) === 'claude_code'

/**
 * The Claude accounts a request from this client must not reach: Anthropic accepts a subscription
 * token only from Claude Code, so anything else (SDKs, SillyTavern, a translated OpenAI request)
 * goes only to accounts whose `clients` is `any`. Null when nothing is excluded. The relay never
 * disguises one client as another: it sends the request elsewhere, or says why it cannot.
 */
export function clientExclusion(accounts: readonly Pick<Account, 'id' | 'clients'>[], fromClaudeCode: boolean): Exclusion | null {
  if (fromClaudeCode) return null
  const ids = new Set(accounts.filter(a => a.clients !== 'any').map(a => a.id))
  return ids.size
    ? { ids, need: 'it needs an account that accepts any client (a Console API-key account)', passedOver: 'serves Claude Code only' }
    : null
}

/**
 * `clientExclusion` over the scheduler's in-process copy of the Claude accounts (no Redis round
 * trip): what every adapter that sends to Claude accounts returns from `exclude` — the Messages
 * API with `isClaudeCode(user agent)`, translated protocols (OpenAI chat) with false.
 */
export async function claudeClientExclusion(fromClaudeCode: boolean): Promise<Exclusion | null> {
  return fromClaudeCode ? null : clientExclusion(await claudeAccounts.all(), false)
}
