import { OAuthError } from './errors'

/** What an admin pasted after authorizing: the code, and the state when the input carried one. */
export interface CodeInput {
  code: string
  state?: string
}

// Authorization codes are URL-safe tokens; Google's contain `/` (e.g. `4/0Ab…`).
const CODE = /^[\w.~+/=-]{4,2048}$/
const STATE = /^[\w.~+/=-]{1,512}$/

/**
 * Parse what the admin pasted: the bare code, Claude's `code#state` (what its callback page
 * shows), or the whole callback URL (`…?code=…&state=…`, other parameters ignored; a bare query
 * string works too). Throws OAuthError `bad_input` (without echoing the input) otherwise.
 */
export function parseCodeInput(raw: string): CodeInput {
  const input = (raw ?? '').trim()
  if (!input) throw new OAuthError('bad_input', 'Paste the authorization code or the whole callback URL.')
  const query = queryOf(input)
  if (query) {
    const error = query.get('error')
    if (error) {
      const safe = /^[\w.-]{1,64}$/.test(error) ? ` (${error})` : ''
      throw new OAuthError('bad_input', `The provider did not authorize the request${safe}: start again with a new authorization URL.`)
    }
    const code = query.get('code')
    if (!code) throw new OAuthError('bad_input', 'The callback URL has no code parameter.')
    return checked(code, query.get('state') ?? undefined)
  }
  const hash = input.indexOf('#')
  if (hash >= 0) return checked(input.slice(0, hash), input.slice(hash + 1) || undefined)
  return checked(input, undefined)
}

/** The query parameters when the input is a URL or a query string, else null. */
function queryOf(input: string): URLSearchParams | null {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    try {
      const u = new URL(input)
      // Some providers put the answer in the fragment; the query wins when both carry one.
      const fragment = new URLSearchParams(u.hash.slice(1))
      return u.searchParams.has('code') || u.searchParams.has('error') || !fragment.has('code') ? u.searchParams : fragment
    }
    catch {
      throw new OAuthError('bad_input', 'The callback URL could not be parsed.')
    }
  }
  if (/^\??(?:[\w.~-]+=[^&]*&)*(?:code|error)=/.test(input)) return new URLSearchParams(input.replace(/^\?/, ''))
  return null
}

function checked(code: string, state: string | undefined): CodeInput {
  if (!CODE.test(code)) throw new OAuthError('bad_input', 'That does not look like an authorization code: paste the code or the whole callback URL.')
  if (state !== undefined && !STATE.test(state)) throw new OAuthError('bad_input', 'The state after the code is malformed.')
  return state === undefined ? { code } : { code, state }
}
