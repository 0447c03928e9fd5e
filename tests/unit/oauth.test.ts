import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { configFromEnv } from '../../server/config'
import { parseCodeInput } from '../../server/oauth/code-input'
import { OAuthError, scrub } from '../../server/oauth/errors'
import { challengeFor, createPkce, createState, createVerifier } from '../../server/oauth/pkce'
import { buildAuthorizeUrl, getProvider, GOOGLE_SCOPES, oauthProviders } from '../../server/oauth/providers'

const secrets = { JWT_SECRET: 'j'.repeat(32), ENCRYPTION_KEY: 'e'.repeat(32), API_KEY_SALT: 's'.repeat(16) }
const B64URL_43 = /^[\w-]{43}$/

describe('PKCE', () => {
  it('makes a 43-character base64url verifier from 32 random bytes, different every time', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const v = createVerifier()
      expect(v).toMatch(B64URL_43)
      expect(Buffer.from(v, 'base64url')).toHaveLength(32)
      seen.add(v)
    }
    expect(seen.size).toBe(50)
  })

  it('matches RFC 7636 appendix B (S256)', () => {
    expect(challengeFor('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')
  })

  it('pairs a verifier with base64url(sha256(verifier)), no padding', () => {
    const { verifier, challenge, method } = createPkce()
    expect(method).toBe('S256')
    expect(challenge).toBe(createHash('sha256').update(verifier).digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''))
    expect(challenge).toMatch(B64URL_43)
  })

  it('makes random states', () => {
    expect(createState()).toMatch(B64URL_43)
    expect(createState()).not.toBe(createState())
  })
})

describe('providers from config', () => {
  const custom = configFromEnv({
    ...secrets,
    CLAUDE_OAUTH_AUTHORIZE_URL: 'https://auth.example.test/oauth/authorize',
    CLAUDE_OAUTH_TOKEN_URL: 'https://auth.example.test/v1/oauth/token',
    CLAUDE_OAUTH_CLIENT_ID: 'claude-client-1',
    CLAUDE_OAUTH_REDIRECT_URI: 'https://relay.example.test/claude/callback',
    CLAUDE_OAUTH_SCOPES: 'user:inference  user:profile',
    GOOGLE_OAUTH_AUTHORIZE_URL: 'https://accounts.example.test/o/oauth2/v2/auth',
    GOOGLE_OAUTH_TOKEN_URL: 'https://oauth2.example.test/token',
    GEMINI_OAUTH_CLIENT_ID: 'google-client-1',
    GEMINI_OAUTH_CLIENT_SECRET: 'google-secret-1',
    GEMINI_OAUTH_REDIRECT_URI: 'https://relay.example.test/google/callback',
  })

  it('builds Claude\'s authorize URL with exactly the documented parameters, in order', () => {
    const u = new URL(buildAuthorizeUrl(getProvider(custom, 'claude'), 'CHALLENGE', 'STATE'))
    expect(`${u.origin}${u.pathname}`).toBe('https://auth.example.test/oauth/authorize')
    expect([...u.searchParams]).toEqual([
      ['code', 'true'],
      ['client_id', 'claude-client-1'],
      ['response_type', 'code'],
      ['redirect_uri', 'https://relay.example.test/claude/callback'],
      ['scope', 'user:inference user:profile'],
      ['code_challenge', 'CHALLENGE'],
      ['code_challenge_method', 'S256'],
      ['state', 'STATE'],
    ])
  })

  it('builds Google\'s authorize URL: offline access, consent, the three scopes, no client secret', () => {
    const url = buildAuthorizeUrl(getProvider(custom, 'google'), 'CHALLENGE', 'STATE')
    const u = new URL(url)
    expect(`${u.origin}${u.pathname}`).toBe('https://accounts.example.test/o/oauth2/v2/auth')
    expect(Object.fromEntries(u.searchParams)).toEqual({
      access_type: 'offline',
      prompt: 'consent',
      client_id: 'google-client-1',
      response_type: 'code',
      redirect_uri: 'https://relay.example.test/google/callback',
      scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
      code_challenge: 'CHALLENGE',
      code_challenge_method: 'S256',
      state: 'STATE',
    })
    expect(url).not.toContain('google-secret-1')
  })

  it('takes token endpoints, clients and encodings from config', () => {
    const { claude, google } = oauthProviders(custom)
    expect(claude).toMatchObject({ tokenUrl: 'https://auth.example.test/v1/oauth/token', clientId: 'claude-client-1', tokenRequestEncoding: 'json' })
    expect(claude.clientSecret).toBeUndefined()
    expect(google).toMatchObject({ tokenUrl: 'https://oauth2.example.test/token', clientSecret: 'google-secret-1', tokenRequestEncoding: 'form' })
    expect(google.scopes).toEqual([...GOOGLE_SCOPES])
  })

  it('uses the defaults Claude Code and Gemini CLI use when nothing is set', () => {
    const { claude, google } = oauthProviders(configFromEnv(secrets))
    expect(claude.authorizeUrl).toBe('https://claude.ai/oauth/authorize')
    expect(claude.tokenUrl).toBe('https://platform.claude.com/v1/oauth/token')
    expect(claude.scopes).toContain('user:inference')
    expect(google.authorizeUrl).toBe('https://accounts.google.com/o/oauth2/v2/auth')
    expect(google.tokenUrl).toBe('https://oauth2.googleapis.com/token')
  })

  it('builds providers once per config object', () => {
    expect(oauthProviders(custom)).toBe(oauthProviders(custom))
  })
})

describe('parseCodeInput', () => {
  it.each<[string, string, { code: string, state?: string }]>([
    ['bare code', 'abc123XYZ_-.~', { code: 'abc123XYZ_-.~' }],
    ['bare code with surrounding whitespace', '  abc123XYZ \n', { code: 'abc123XYZ' }],
    ['Google code with a slash', '4/0AbCd-EfGh_ij', { code: '4/0AbCd-EfGh_ij' }],
    ['code#state', 'abc123#st4te-xyz', { code: 'abc123', state: 'st4te-xyz' }],
    ['code# (empty state)', 'abc123#', { code: 'abc123' }],
    ['callback URL', 'https://platform.claude.com/oauth/code/callback?code=abc123&state=st4te', { code: 'abc123', state: 'st4te' }],
    ['callback URL with extra params', 'https://relay.example.test/cb?foo=1&code=abc123&bar=2&state=st4te&scope=a%20b', { code: 'abc123', state: 'st4te' }],
    ['Google callback URL (encoded slash, no state)', 'https://codeassist.google.com/authcode?code=4%2F0AbCd-Ef&scope=email%20profile&authuser=0&prompt=consent', { code: '4/0AbCd-Ef' }],
    ['callback URL with the answer in the fragment', 'https://relay.example.test/cb#code=abc123&state=st4te', { code: 'abc123', state: 'st4te' }],
    ['query string', '?code=abc123&state=st4te', { code: 'abc123', state: 'st4te' }],
    ['query string without ?', 'code=abc123&state=st4te', { code: 'abc123', state: 'st4te' }],
  ])('%s', (_name, input, expected) => {
    expect(parseCodeInput(input)).toEqual(expected)
  })

  it.each<[string, string, RegExp]>([
    ['empty', '', /Paste the authorization code/],
    ['only whitespace', '   \n', /Paste the authorization code/],
    ['words', 'this is not a code', /does not look like an authorization code/],
    ['markup', '<script>alert(1)</script>', /does not look like/],
    ['too short', 'abc', /does not look like/],
    ['too long', 'a'.repeat(3000), /does not look like/],
    ['URL without code', 'https://relay.example.test/cb?state=st4te', /no code parameter/],
    ['denied authorization', 'https://relay.example.test/cb?error=access_denied&state=x', /did not authorize the request \(access_denied\)/],
    ['unparseable URL', 'https://[not-an-ip/cb?code=abc123', /could not be parsed/],
    ['malformed state', 'abc123#state with spaces', /state after the code is malformed/],
  ])('refuses %s', (_name, input, message) => {
    let caught: unknown
    try {
      parseCodeInput(input)
    }
    catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(OAuthError)
    expect((caught as OAuthError).kind).toBe('bad_input')
    expect((caught as OAuthError).message).toMatch(message)
    if (input.trim().length > 8) expect((caught as OAuthError).message).not.toContain(input.trim())
  })
})

describe('OAuthError', () => {
  it.each<[OAuthError, boolean, number]>([
    [new OAuthError('invalid_grant', 'x', 400), false, 400],
    [new OAuthError('upstream', 'x', 500), true, 502],
    [new OAuthError('upstream', 'x', 429), true, 502],
    [new OAuthError('upstream', 'x', 401), false, 502],
    [new OAuthError('upstream', 'x'), true, 502],
    [new OAuthError('proxy', 'x'), true, 502],
    [new OAuthError('busy', 'x'), true, 503],
    [new OAuthError('bad_state', 'x'), false, 400],
    [new OAuthError('session_expired', 'x'), false, 400],
  ])('%s: retryable %s, admin status %s', (err, retryable, statusCode) => {
    expect(err.retryable).toBe(retryable)
    expect(err.statusCode).toBe(statusCode)
    expect(err.name).toBe('OAuthError')
  })

  it('scrubs secrets out of provider text', () => {
    expect(scrub('Invalid refresh token rt-secret-value for client', ['rt-secret-value', undefined, 'ab'])).toBe('Invalid refresh token *** for client')
  })
})
