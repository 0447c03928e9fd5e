/**
 * What went wrong in an OAuth step:
 * - `invalid_grant`: the provider refused the code or refresh token (revoked, expired, already
 *   used). On refresh it means the account needs a new authorization (state `error`).
 * - `bad_input`: the pasted code / callback URL is not usable (nothing was sent anywhere).
 * - `bad_state`: the pasted input carries a state that is not this session's.
 * - `session_expired`: no such OAuth session (expired after 10 minutes, used, or in use right now).
 * - `upstream`: the token endpoint failed (5xx, 429, other 4xx, timeout, unreachable, bad JSON).
 * - `proxy`: the account's proxy refused its credentials, is down, or could not open a tunnel.
 * - `busy`: another instance held this account's refresh lock past the wait deadline.
 */
export type OAuthErrorKind = 'invalid_grant' | 'bad_input' | 'bad_state' | 'session_expired' | 'upstream' | 'proxy' | 'busy'

/** HTTP status an admin route should answer with, per kind. */
const ADMIN_STATUS: Record<OAuthErrorKind, number> = {
  invalid_grant: 400, bad_input: 400, bad_state: 400, session_expired: 400, upstream: 502, proxy: 502, busy: 503,
}

/**
 * A typed OAuth failure. Messages never contain codes, verifiers, tokens or proxy passwords: they
 * are built from fixed text, and anything the provider said is scrubbed of the secrets we sent.
 */
export class OAuthError extends Error {
  constructor(
    readonly kind: OAuthErrorKind,
    message: string,
    /** The token endpoint's HTTP status, when it answered. */
    readonly status?: number,
  ) {
    super(message)
    this.name = 'OAuthError'
  }

  /** Worth retrying later with the same input (the provider or the network failed, not the grant). */
  get retryable(): boolean {
    return this.kind === 'busy' || this.kind === 'proxy' || (this.kind === 'upstream' && (this.status === undefined || this.status === 429 || this.status >= 500))
  }

  /** The status an admin API response should carry. */
  get statusCode(): number {
    return ADMIN_STATUS[this.kind]
  }
}

/** `text` with every secret replaced by `***` (for text that came from a provider). */
export function scrub(text: string, secrets: (string | undefined)[]): string {
  let out = text
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***')
  return out
}
