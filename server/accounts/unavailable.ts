import { effectiveState } from './state'
import type { Account, Platform } from './store'

const LABEL: Record<Platform, string> = { claude: 'Claude', gemini: 'Gemini' }

/**
 * Accounts one request cannot use because of what the request is (not because of their state),
 * and why, in words: `need` completes "No … account can serve this request: …" ("Gemini CLI's
 * calls need a Gemini OAuth account"); `passedOver` is said of each such account ("is an API-key
 * account"). Adapters return one from `exclude` so the 503 can say what would help.
 */
export interface Exclusion {
  ids: ReadonlySet<string>
  need: string
  passedOver: string
}

/** Why no account can serve: `message` for the key holder, `detail` for the admin's log. */
export interface Unavailable { message: string, retryAfter: number | null, detail: string }

/**
 * Why no account of `accounts` can serve a request: `message` says only what the key holder can
 * act on (retry after N s, or ask the admin); `detail` names each account and its state or why it
 * was passed over. When every account that could serve is excluded for this request (its client,
 * its call), the message says that rather than "busy" — retrying would never help.
 */
export function whyUnavailable(platform: Platform, accounts: readonly Account[], binding: { boundTo: string | null, fallback: boolean }, exclusion: Exclusion | null, now = Date.now()): Unavailable {
  const { boundTo } = binding
  const onlyDedicated = !!boundTo && !binding.fallback
  const label = LABEL[platform]
  const all = accounts.filter(a => a.isActive && (a.id === boundTo || (!onlyDedicated && a.accountType !== 'dedicated')))
  const head = `No ${label} account can serve this request`
  if (all.length === 0) {
    const message = boundTo
      ? `${head}: the ${label} account dedicated to this API key is not available (disabled or deleted; ask the admin).`
      : `${head}: no active ${label} account (ask the admin to add or enable one).`
    return { message, retryAfter: null, detail: message }
  }
  const excluded = (a: Account) => exclusion?.ids.has(a.id) ?? false
  const detail = all.map((a) => {
    if (excluded(a)) return `${a.name} (${a.id}): passed over, ${exclusion!.passedOver}`
    const st = effectiveState(a.state, now)
    return 'until' in st
      ? `${a.name} (${a.id}): ${st.state}${st.until ? ` until ${st.until}` : ''} (${st.reason.slice(0, 120)})`
      : `${a.name} (${a.id}): failed for this request`
  }).join('; ')
  const serving = all.filter(a => !excluded(a))
  if (serving.length === 0) {
    const which = onlyDedicated ? `the ${label} account dedicated to this API key` : `every active ${label} account`
    return { message: `${head}: ${exclusion!.need}; ${which} ${exclusion!.passedOver} (ask the admin).`, retryAfter: null, detail }
  }
  // Only the accounts that could serve this request say when to retry.
  const ends = serving.map(a => a.state && a.state.until > now ? a.state.until : 0)
  const soonest = ends.every(Boolean) ? Math.min(...ends) : 0
  const retryAfter = soonest ? Math.max(1, Math.ceil((soonest - now) / 1000)) : null
  const message = retryAfter
    ? `${head} right now: every account is rate limited or out of service; try again in ${retryAfter} s.`
    : `${head} right now: every account is busy or out of service; try again shortly.`
  return { message, retryAfter, detail }
}
