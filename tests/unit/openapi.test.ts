import { readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type { z } from 'zod'
import type { ApiKeyView } from '../../server/keys'
import { createOpenApiDocument, type OpenApiDocument } from '../../server/openapi'
import type { ApiKeyView as ApiKeyViewShape } from '../../server/openapi/shapes'

/** A route as Nitro registers it from a file: its path (`{param}` style), its method (null: any), and whether it is a catch-all. */
interface Route { file: string, path: string, method: string | null, catchAll: boolean }

const METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'] as const

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]))

/**
 * Every route file under server/api (mounted at /api) and server/routes (at /), read the way
 * Nitro does: a `.get`/`.post`… suffix is the method (none: every method), `index` is its folder,
 * `[id]` a parameter, `[...x]` a catch-all. A method-less `index` beside a method-less catch-all
 * answers that catch-all's bare prefix (/api/v1, /gemini: the protocol's 404), so it counts as the catch-all.
 */
function nitroRoutes(): Route[] {
  return [['server/api', '/api'], ['server/routes', '']].flatMap(([dir, mount]) => filesUnder(dir!).map((file) => {
    let name = relative(dir!, file).replace(/\.ts$/, '')
    const suffix = /\.([a-z]+)$/.exec(name)
    const method = suffix && (METHODS as readonly string[]).includes(suffix[1]!) ? suffix[1]! : null
    if (method) name = name.slice(0, -method.length - 1)
    const segments = name.split('/')
    const siblings = readdirSync(join(file, '..'))
    const catchAll = segments.some(s => s.startsWith('[...')) || (segments.at(-1) === 'index' && !method && siblings.some(s => /^\[\.\.\.\w+\]\.ts$/.test(s)))
    const kept = segments.filter(s => s !== 'index' && !s.startsWith('[...')).map(s => s.replace(/^\[(\w+)\]$/, '{$1}'))
    return { file, path: `${mount}/${kept.join('/')}`.replace(/\/$/, '') || '/', method, catchAll }
  }))
}

/** Whether `doc` documents `route`: its path with its method (any method when the file has none); a catch-all, any path under its prefix. */
function documents(doc: OpenApiDocument, route: Route): boolean {
  const paths = Object.entries(doc.paths ?? {}).filter(([p]) => (route.catchAll ? p.startsWith(`${route.path}/`) : p === route.path))
  return paths.some(([, item]) => (route.method ? !!item[route.method as (typeof METHODS)[number]] : METHODS.some(m => item[m])))
}

const doc = createOpenApiDocument()
const routes = nitroRoutes()

describe('route coverage', () => {
  it('reads the routes from the file tree the way Nitro does', () => {
    expect(routes).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: '/api/admin/api-keys/{id}', method: 'delete', catchAll: false }),
      expect.objectContaining({ path: '/api/admin/api-keys', method: 'get', catchAll: false }),
      expect.objectContaining({ path: '/api/openapi.json', method: 'get', catchAll: false }),
      expect.objectContaining({ path: '/api/admin/pricing', method: 'put', catchAll: true }),
      expect.objectContaining({ path: '/claude/v1/messages', method: null, catchAll: false }),
      expect.objectContaining({ path: '/gemini', method: null, catchAll: true }),
      expect.objectContaining({ path: '/api/admin/pricing', method: 'get', catchAll: false }),
    ]))
  })

  it('does not count an undocumented route as documented', () => {
    expect(documents(doc, { file: '', path: '/api/admin/api-keys/{id}', method: 'patch', catchAll: false })).toBe(false)
    expect(documents(doc, { file: '', path: '/api/admin/nothing', method: null, catchAll: false })).toBe(false)
    expect(documents(doc, { file: '', path: '/nothing', method: null, catchAll: true })).toBe(false)
  })

  it.each(routes.map(r => [relative('server', r.file), r] as const))('%s is in the document', (_, route) => {
    expect(documents(doc, route)).toBe(true)
  })
})

/** Every value of `key` anywhere in `value`. */
function collect(value: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) value.forEach(v => collect(v, key, out))
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === key) out.push(v)
      collect(v, key, out)
    }
  }
  return out
}

/** The value a local JSON pointer (`#/components/schemas/X`) names in `root`, or undefined. */
const resolvePointer = (root: unknown, ref: string): unknown => ref.slice(2).split('/')
  .map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
  .reduce<unknown>((node, part) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined), root)

const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) => METHODS.flatMap(m => (item[m] ? [{ path, method: m, op: item[m] }] : [])))

describe('OpenAPI 3.1 shape', () => {
  it('is 3.1 with info and servers', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.stringMatching(/^\d+\.\d+\.\d+/) })
    expect(doc.servers?.length).toBeGreaterThan(0)
  })

  it('resolves every $ref inside the document', () => {
    const refs = collect(doc, '$ref') as string[]
    expect(refs.length).toBeGreaterThan(0)
    expect(refs.filter(r => !r.startsWith('#/') || resolvePointer(doc, r) === undefined)).toEqual([])
  })

  it.each(operations.map(o => [`${o.method.toUpperCase()} ${o.path}`, o] as const))('%s has responses, a declared security and its path parameters', (_, { path, op }) => {
    expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0)
    const schemes = Object.keys(doc.components?.securitySchemes ?? {})
    for (const requirement of op.security ?? doc.security ?? []) expect(schemes).toEqual(expect.arrayContaining(Object.keys(requirement)))
    const declared = (op.parameters ?? []).filter(p => 'in' in p && p.in === 'path' && p.required).map(p => ('name' in p ? p.name : ''))
    expect(declared.sort()).toEqual([...path.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort())
  })

  it('gives each protocol its own error shape', () => {
    const errorRef = (path: string, method: (typeof METHODS)[number]) => JSON.stringify(doc.paths?.[path]?.[method]?.responses?.['401'])
    expect(errorRef('/api/v1/messages', 'post')).toContain('#/components/schemas/AnthropicError')
    expect(errorRef('/gemini/{version}/models/{model}:generateContent', 'post')).toContain('#/components/schemas/GoogleError')
    expect(errorRef('/openai/v1/chat/completions', 'post')).toContain('#/components/schemas/OpenAIError')
    expect(errorRef('/api/admin/api-keys', 'post')).toContain('#/components/schemas/AdminError')
  })

  it('takes admin request bodies from the handlers\' zod schemas', () => {
    const body = doc.paths?.['/api/admin/api-keys']?.post?.requestBody
    const schema = body && 'content' in body ? body.content['application/json']?.schema : undefined
    expect(schema).toMatchObject({ type: 'object', required: ['name'], additionalProperties: false })
  })
})

// A type assertion: `npm run typecheck` fails when ApiKeyView and its documented shape drift apart.
it('documents the API key view as the server types it', () => {
  expectTypeOf<z.output<typeof ApiKeyViewShape>>().toEqualTypeOf<ApiKeyView>()
})
