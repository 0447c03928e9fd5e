import { describe, expect, it } from 'vitest'
import { upstreamUrl } from '../../server/protocols/anthropic/request'

const MESSAGES = '/v1/messages'
const COUNT = '/v1/messages/count_tokens'

describe('upstreamUrl', () => {
  it.each([
    ['a bare host', 'https://api.anthropic.com', MESSAGES, '', 'https://api.anthropic.com/v1/messages'],
    ['a bare host with a trailing slash', 'https://api.anthropic.com/', MESSAGES, '', 'https://api.anthropic.com/v1/messages'],
    ['several trailing slashes', 'https://api.anthropic.com///', MESSAGES, '', 'https://api.anthropic.com/v1/messages'],
    ['count_tokens', 'https://api.anthropic.com', COUNT, '', 'https://api.anthropic.com/v1/messages/count_tokens'],
    ['a host with a port', 'http://127.0.0.1:8787', MESSAGES, '', 'http://127.0.0.1:8787/v1/messages'],
    ['a base path', 'https://gateway.example.com/anthropic', MESSAGES, '', 'https://gateway.example.com/anthropic/v1/messages'],
    ['a base path with a trailing slash', 'https://gateway.example.com/anthropic/', COUNT, '', 'https://gateway.example.com/anthropic/v1/messages/count_tokens'],
    ['an apiUrl ending in /v1/messages', 'https://api.anthropic.com/v1/messages', MESSAGES, '', 'https://api.anthropic.com/v1/messages'],
    ['an apiUrl ending in /v1/messages/', 'https://api.anthropic.com/v1/messages/', MESSAGES, '', 'https://api.anthropic.com/v1/messages'],
    ['an apiUrl ending in /v1/messages, count_tokens', 'https://api.anthropic.com/v1/messages', COUNT, '', 'https://api.anthropic.com/v1/messages/count_tokens'],
    ['a base path ending in /v1/messages', 'https://gw.example.com/claude/v1/messages', MESSAGES, '', 'https://gw.example.com/claude/v1/messages'],
  ])('%s', (_label, apiUrl, path, clientUrl, expected) => {
    expect(upstreamUrl(apiUrl, path, clientUrl)).toBe(expected)
  })

  it.each([
    ['?beta=true', '/v1/messages?beta=true', true],
    ['beta=true after another parameter', '/v1/messages?x=1&beta=true', true],
    ['beta=true before another parameter', '/v1/messages?beta=true&x=1', true],
    ['on the Claude Code route', '/claude/v1/messages?beta=true', true],
    ['no query', '/v1/messages', false],
    ['beta=false', '/v1/messages?beta=false', false],
    ['beta=trueish', '/v1/messages?beta=trueish', false],
    ['notbeta=true', '/v1/messages?notbeta=true', false],
    ['beta=true in the path, not the query', '/v1/messages/beta=true', false],
    ['other parameters only', '/v1/messages?foo=bar&key=cr_x', false],
  ])('the client\'s query with %s → beta kept: %s', (_label, clientUrl, kept) => {
    const base = 'https://api.anthropic.com'
    const expected = `${base}${MESSAGES}${kept ? '?beta=true' : ''}`
    expect(upstreamUrl(base, MESSAGES, clientUrl)).toBe(expected)
  })

  it('never forwards other client query parameters (e.g. a ?key= relay key)', () => {
    const out = upstreamUrl('https://api.anthropic.com', MESSAGES, '/v1/messages?beta=true&key=cr_secret')
    expect(out).not.toContain('cr_secret')
    expect(out).toBe('https://api.anthropic.com/v1/messages?beta=true')
  })

  it('defaults to no query when the client URL is omitted', () => {
    expect(upstreamUrl('https://api.anthropic.com', MESSAGES)).toBe('https://api.anthropic.com/v1/messages')
  })
})
