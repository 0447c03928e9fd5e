import { describe, expect, it } from 'vitest'
import { util } from 'undici'
import { h2RequestHeaders, rawResponseHeaders } from '../../server/upstream/h2-request'

const base = { method: 'POST', path: '/v1/messages' }
const PSEUDO = { ':method': 'POST', ':scheme': 'https', ':authority': 'api.example.com', ':path': '/v1/messages' }

describe('h2RequestHeaders: an undici request\'s headers for HTTP/2', () => {
  it.each([
    ['names lowercase, values as strings', { 'Content-Type': 'application/json', 'X-Api-Key': 'k', 'Content-Length': 12 }, { 'content-type': 'application/json', 'x-api-key': 'k', 'content-length': '12' }],
    ['connection-specific headers dropped', { 'Connection': 'keep-alive', 'Keep-Alive': 'timeout=5', 'Transfer-Encoding': 'chunked', 'Upgrade': 'h2c', 'Proxy-Connection': 'keep-alive', 'HTTP2-Settings': 'AAA', 'accept': '*/*' }, { accept: '*/*' }],
    ['te kept only as trailers', { te: 'trailers' }, { te: 'trailers' }],
    ['te other than trailers dropped', { TE: 'gzip' }, {}],
    ['undefined and null values skipped', { a: undefined, b: null, c: '' }, { c: '' }],
    ['caller pseudo-headers ignored', { ':path': '/admin', ':method': 'DELETE', 'x': '1' }, { x: '1' }],
    ['lists kept as lists', { 'anthropic-beta': ['a', 'b'] }, { 'anthropic-beta': ['a', 'b'] }],
  ] as const)('%s', (_, headers, want) => {
    expect(h2RequestHeaders({ ...base, headers: headers as never }, 'api.example.com')).toEqual({ ...PSEUDO, ...want })
  })

  it('host sets :authority', () => {
    expect(h2RequestHeaders({ ...base, headers: { Host: 'other.example:8443' } }, 'api.example.com')).toEqual({ ...PSEUDO, ':authority': 'other.example:8443' })
  })

  it('takes undici\'s flat list and list of pairs, merging repeated names', () => {
    const want = { ...PSEUDO, 'x-a': ['1', '2'], 'accept': 'text/event-stream' }
    expect(h2RequestHeaders({ ...base, headers: ['X-A', '1', 'x-a', '2', 'Accept', 'text/event-stream', 'Connection', 'close'] }, 'api.example.com')).toEqual(want)
    expect(h2RequestHeaders({ ...base, headers: [['X-A', '1'], ['x-a', '2'], ['Accept', 'text/event-stream']] as never }, 'api.example.com')).toEqual(want)
    expect(h2RequestHeaders({ ...base, headers: new Map([['x-a', '1'], ['accept', 'text/event-stream']]) as never }, 'api.example.com')).toEqual({ ...PSEUDO, 'x-a': '1', 'accept': 'text/event-stream' })
  })

  it('appends a query object to the path', () => {
    expect(h2RequestHeaders({ ...base, path: '/v1/messages?beta=true', query: { a: 'x y', b: [1, 2], c: undefined } }, 'h')[':path']).toBe('/v1/messages?beta=true&a=x+y&b=1&b=2')
    expect(h2RequestHeaders({ ...base, query: {} }, 'h')[':path']).toBe('/v1/messages')
  })
})

describe('rawResponseHeaders: HTTP/2 response headers as undici handlers get them', () => {
  it('latin1 Buffers name, value …; pseudo-headers left out; lists repeated; undici parses them back', () => {
    const raw = rawResponseHeaders({ ':status': 200, 'content-type': 'text/event-stream', 'set-cookie': ['a=1', 'b=2'], 'x-n': 'caf\u00E9' } as never)
    expect(raw.every(b => Buffer.isBuffer(b))).toBe(true)
    expect(raw.map(b => b.toString('latin1'))).toEqual(['content-type', 'text/event-stream', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-n', 'caf\u00E9'])
    expect(util.parseHeaders(raw)).toEqual({ 'content-type': 'text/event-stream', 'set-cookie': ['a=1', 'b=2'], 'x-n': 'caf\u00E9' })
  })
})
