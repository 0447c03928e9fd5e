import { describe, expect, it } from 'vitest'
import { clientIp, forwardedValue, requestProtocol, throttleAddress } from '../../server/admin/client-ip'

describe('clientIp', () => {
  it.each<[string, string | undefined, string | string[] | undefined, number, string]>([
    ['no proxy: the socket address', '203.0.113.9', undefined, 0, '203.0.113.9'],
    ['no proxy: X-Forwarded-For is ignored', '203.0.113.9', '10.9.8.7', 0, '203.0.113.9'],
    ['one proxy: the rightmost entry', '10.0.0.2', '198.51.100.7', 1, '198.51.100.7'],
    ['one proxy: a spoofed left part is not read', '10.0.0.2', '1.1.1.1, 198.51.100.7', 1, '198.51.100.7'],
    ['two proxies: second from the right', '10.0.0.2', '6.6.6.6, 198.51.100.7, 10.0.0.9', 2, '198.51.100.7'],
    ['two proxies, one entry: the socket (not a client-written value)', '10.0.0.2', '198.51.100.7', 2, '10.0.0.2'],
    ['one proxy, no header: the socket', '10.0.0.2', undefined, 1, '10.0.0.2'],
    ['one proxy, empty header: the socket', '10.0.0.2', '', 1, '10.0.0.2'],
    ['one proxy, garbage entry: the socket', '10.0.0.2', 'not-an-ip', 1, '10.0.0.2'],
    ['one proxy, trailing comma: the socket', '10.0.0.2', '198.51.100.7,', 1, '10.0.0.2'],
    ['repeated header lines read as one list', '10.0.0.2', ['6.6.6.6', '198.51.100.7'], 1, '198.51.100.7'],
    ['IPv4-mapped socket address', '::ffff:127.0.0.1', undefined, 0, '127.0.0.1'],
    ['IPv6 entry, lower-cased', '10.0.0.2', '2001:DB8::1', 1, '2001:db8::1'],
    ['no socket address at all', undefined, undefined, 0, 'unknown'],
  ])('%s', (_label, socket, xff, trust, expected) => {
    expect(clientIp(socket, xff, trust)).toBe(expected)
  })
})

describe('forwardedValue', () => {
  it.each<[string | undefined, number, string | undefined]>([
    ['relay.example.com', 0, undefined],
    ['relay.example.com', 1, 'relay.example.com'],
    ['evil.example, relay.example.com', 1, 'relay.example.com'],
    [undefined, 1, undefined],
  ])('%s with %i trusted hops → %s', (header, trust, expected) => {
    expect(forwardedValue(header, trust)).toBe(expected)
  })
})

describe('throttleAddress', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0001:0002::9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['unknown', 'unknown'],
  ])('%s → %s', (ip, expected) => {
    expect(throttleAddress(ip)).toBe(expected)
  })
})

describe('requestProtocol', () => {
  it.each<[boolean, string | undefined, number, 'http' | 'https']>([
    [false, undefined, 0, 'http'],
    [true, undefined, 0, 'https'],
    [false, 'https', 0, 'http'],
    [false, 'https', 1, 'https'],
    [false, 'HTTPS', 1, 'https'],
    [true, 'http', 1, 'http'],
    [false, 'http, https', 1, 'https'],
    [false, 'https', 2, 'http'],
    [false, 'gopher', 1, 'http'],
  ])('TLS %s, X-Forwarded-Proto %s, %i trusted hops → %s', (encrypted, proto, trust, expected) => {
    expect(requestProtocol(encrypted, proto, trust)).toBe(expected)
  })
})
