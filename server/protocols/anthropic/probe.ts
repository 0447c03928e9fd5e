import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount } from '../../accounts'
import type { AccountStateRecord } from '../../accounts/state'
import { useConfig } from '../../config'
import { accountAuthHeaders, baseUrl, upstreamUrl } from './forward'

// The relay's own request: free (count_tokens), and nothing in it comes from a key holder.
const PROBE_BODY = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'ping' }] })
const PROBE_TIMEOUT_MS = 10_000

/** True when Anthropic refuses the account itself (401/403) for a request of the relay's own. */
export async function refusesAccount(account: ClaudeAccount): Promise<boolean> {
  const cfg = useConfig()
  try {
    const res = await request(upstreamUrl(baseUrl(account, cfg.claude.apiUrl), '/v1/messages/count_tokens'), {
      method: 'POST', dispatcher: claudeAccounts.dispatcherFor(account), body: PROBE_BODY,
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'content-length': String(Buffer.byteLength(PROBE_BODY)), ...accountAuthHeaders(account) },
      headersTimeout: PROBE_TIMEOUT_MS, bodyTimeout: PROBE_TIMEOUT_MS,
    })
    await res.body.dump()
    return res.statusCode === 401 || res.statusCode === 403
  }
  catch {
    return false // unreachable says nothing about the account's standing
  }
}

/**
 * After a 403 to a client's request: `blocked` (until an admin resets it) when the probe is
 * refused too, else null (the 403 was about that request and goes back to its sender).
 */
export async function blockedByProbe(account: ClaudeAccount, answer: Buffer, now = Date.now()): Promise<AccountStateRecord | null> {
  if (!await refusesAccount(account)) return null
  let message = ''
  try {
    message = String(JSON.parse(answer.toString('utf8'))?.error?.message ?? '').slice(0, 200)
  }
  catch { /* not JSON */ }
  return { state: 'blocked', reason: `upstream 403, confirmed by a probe${message ? `: ${message}` : ''}`, since: now, until: 0 }
}
