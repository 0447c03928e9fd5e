import { request } from 'undici'
import { claudeAccounts, type ClaudeAccount } from '../../accounts'
import { type AccountStateRecord, upstreamErrorMessage } from '../../accounts/state'
import { useConfig } from '../../config'
import { accountAuthHeaders, baseUrl, upstreamUrl } from './request'

// The relay's own request: free (count_tokens), and nothing in it comes from a key holder.
const PROBE_BODY = JSON.stringify({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: 'ping' }] })
const PROBE_TIMEOUT_MS = 10_000

/** True when Anthropic refuses the account itself (401/403) for a request of the relay's own. */
async function refusesAccount(account: ClaudeAccount): Promise<boolean> {
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
 * A 401 (credentials refused → `error`) or 403 (→ `blocked`) marks the account, until an admin
 * resets it, only when a request of the relay's own is refused too; else null: the answer was
 * about that request (a header or body a key holder chose) and goes back to its sender.
 */
export async function confirmedByProbe(account: ClaudeAccount, status: 401 | 403, answer: Buffer, now = Date.now()): Promise<AccountStateRecord | null> {
  if (!await refusesAccount(account)) return null
  const message = upstreamErrorMessage(answer.toString('utf8'))
  const detail = `${message ? `: ${message}` : ''} (confirmed by the relay's own probe)`
  // A setup token is never refreshed: only a new one (`claude setup-token`) brings the account back.
  const what = account.type === 'setup-token' ? 'the setup token (401): replace it with a new one from `claude setup-token`' : 'the account\'s credentials (401)'
  return status === 401
    ? { state: 'error', reason: `upstream refused ${what}${detail}`, since: now, until: 0 }
    : { state: 'blocked', reason: `upstream 403${detail}`, since: now, until: 0 }
}
