import type { IncomingHttpHeaders } from 'node:http'
import { describe, expect, it } from 'vitest'
import { isAdminPath } from '../../server/admin/body-limit'
import { checkAdminWrite } from '../../server/admin/csrf'

const cookie = 'theme=dark; crs_admin=eyJ.a.b'
const host = 'relay.example.com'
const json = 'application/json'

describe('checkAdminWrite', () => {
  it.each<[string, string, IncomingHttpHeaders, boolean, number, number | 'ok']>([
    ['a GET with the cookie needs no origin', 'GET', { host, cookie }, false, 0, 'ok'],
    ['a cookie POST from a foreign Origin', 'POST', { host, cookie, 'origin': 'https://evil.example', 'content-type': json }, true, 0, 403],
    ['a cookie POST from a foreign Origin with a form body', 'POST', { host, cookie, 'origin': 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' }, true, 0, 403],
    ['a cookie POST without Origin or Sec-Fetch-Site', 'POST', { host, cookie, 'content-type': json }, true, 0, 403],
    ['a cookie DELETE from Origin: null', 'DELETE', { host, cookie, origin: 'null' }, false, 0, 403],
    ['a cookie POST with Sec-Fetch-Site: same-site (a sibling subdomain)', 'POST', { host, cookie, 'sec-fetch-site': 'same-site' }, false, 0, 403],
    ['a cookie POST from the same origin', 'POST', { host, cookie, 'origin': `http://${host}`, 'content-type': json }, true, 0, 'ok'],
    ['same origin, default port spelled out', 'PUT', { 'host': `${host}:80`, cookie, 'origin': `http://${host}`, 'content-type': json }, true, 0, 'ok'],
    ['same host, other scheme', 'POST', { host, cookie, origin: `https://${host}` }, false, 0, 403],
    ['same host, other port', 'POST', { host: `${host}:3000`, cookie, origin: `http://${host}:3001` }, false, 0, 403],
    ['a cookie POST with Sec-Fetch-Site: same-origin', 'PATCH', { host, cookie, 'sec-fetch-site': 'same-origin', 'content-type': json }, true, 0, 'ok'],
    ['same origin but a form body', 'POST', { host, cookie, 'origin': `http://${host}`, 'content-type': 'application/x-www-form-urlencoded' }, true, 0, 415],
    ['same origin, JSON with a charset', 'POST', { host, cookie, 'origin': `http://${host}`, 'content-type': 'application/json; charset=utf-8' }, true, 0, 'ok'],
    ['Bearer without Origin', 'POST', { host, 'authorization': 'Bearer abc', 'content-type': json }, true, 0, 'ok'],
    ['Bearer with a cookie and a foreign Origin (the header proves no browser forged it)', 'POST', { host, cookie, authorization: 'Bearer abc', origin: 'https://evil.example' }, false, 0, 'ok'],
    ['Bearer with a form body (scripts keep working)', 'POST', { host, 'authorization': 'Bearer abc', 'content-type': 'application/x-www-form-urlencoded' }, true, 0, 'ok'],
    ['Basic auth is not Bearer', 'POST', { host, cookie, authorization: 'Basic YTpi', origin: 'https://evil.example' }, false, 0, 403],
    ['anonymous login with JSON', 'POST', { host, 'content-type': json }, true, 0, 'ok'],
    ['anonymous login with a form', 'POST', { host, 'content-type': 'application/x-www-form-urlencoded' }, true, 0, 415],
    ['anonymous login with text/plain', 'POST', { host, 'content-type': 'text/plain' }, true, 0, 415],
    ['anonymous login without a content-type', 'POST', { host }, true, 0, 415],
    ['a bodiless cookie POST from the same origin (logout)', 'POST', { host: '127.0.0.1:3000', cookie, origin: 'http://127.0.0.1:3000' }, false, 0, 'ok'],
    ['behind a proxy: Origin matches X-Forwarded-Host/-Proto', 'POST', { 'host': '127.0.0.1:3000', cookie, 'origin': `https://${host}`, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' }, false, 1, 'ok'],
    ['behind a proxy: the Host header still counts', 'POST', { 'host': host, cookie, 'origin': `http://${host}`, 'x-forwarded-proto': 'http' }, false, 1, 'ok'],
    ['behind a proxy: a foreign Origin', 'POST', { 'host': '127.0.0.1:3000', cookie, 'origin': 'https://evil.example', 'x-forwarded-host': host, 'x-forwarded-proto': 'https' }, false, 1, 403],
    ['without TRUST_PROXY, X-Forwarded-Host is not believed', 'POST', { 'host': '127.0.0.1:3000', cookie, 'origin': `https://${host}`, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' }, false, 0, 403],
  ])('%s', (_label, method, headers, hasBody, trustProxy, expected) => {
    const verdict = checkAdminWrite(method, headers, hasBody, { encrypted: false, trustProxy })
    expect(verdict.ok ? 'ok' : verdict.status).toBe(expected)
  })

  it('over TLS, the same origin is https', () => {
    expect(checkAdminWrite('POST', { host, cookie, origin: `https://${host}` }, false, { encrypted: true, trustProxy: 0 }).ok).toBe(true)
  })
})

describe('isAdminPath', () => {
  it.each([
    ['/api/admin/auth/login', true],
    ['/api/admin', true],
    ['/api/admin/api-keys?page=2', true],
    ['/api/%61dmin/auth/login', true],
    ['/api//admin/auth/login', true],
    ['/API/Admin/auth/login', true],
    ['/api/admin%zz', true],
    ['/api/%61dmin/x%C0%AF', true],
    // A malformed escape on another route leaves it that route's (found by the fuzz test).
    ['/api/v1/count_tokens/%C0%AF/me/./admin', false],
    ['/api/administrator', false],
    ['/api/v1/messages', false],
    ['/web/login', false],
    ['/health', false],
  ])('%s → %s', (path, expected) => {
    expect(isAdminPath(path)).toBe(expected)
  })
})
