import type { z } from 'zod'
import type { oas31, ZodOpenApiOperationObject, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from 'zod-openapi'

/** Alternative credentials, as an operation's `security` lists them. */
export type Security = oas31.SecurityRequirementObject[]

/** A JSON body or answer of one schema. */
export const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } })

const REASON: Record<number, string> = {
  400: 'Invalid request', 401: 'Missing or invalid credentials',
  403: 'Not allowed', 404: 'Not found', 405: 'Method not allowed', 413: 'Body too large', 415: 'Body is not JSON',
  429: 'Limit reached (see retry-after)', 500: 'Internal error', 502: 'Upstream failed', 503: 'Unavailable (no account, or the store is down)',
  504: 'Upstream timed out',
}

/** Error answers in one protocol's shape, one per status. */
export function errors(shape: z.ZodType, statuses: readonly number[]): ZodOpenApiResponsesObject {
  return Object.fromEntries(statuses.map(s => [String(s), { description: REASON[s] ?? 'Error', ...json(shape) }]))
}

/** What every operation of one API family shares (tag, credentials, error shape) — the rest is per route. */
export interface Family {
  tag: string
  security: Security
  error: z.ZodType
  /** Statuses any route of the family may answer with. */
  statuses: readonly number[]
}

export interface OperationSpec {
  summary: string
  description?: string
  path?: z.ZodObject
  query?: z.ZodType
  body?: z.ZodType
  /** The success answer: a schema (JSON), or a full response object for other media types. */
  ok: z.ZodType | ZodOpenApiResponseObject
  status?: 200 | 201
  /** Extra error statuses of this route. */
  also?: readonly number[]
  /** Override the family's security (e.g. `[]` for the login route). */
  security?: Security
  externalDocs?: { url: string, description?: string }
}

/** One operation of `family`: params, body, the success answer and the family's error answers. */
export function operation(family: Family, s: OperationSpec): ZodOpenApiOperationObject {
  const statuses = [...new Set([...family.statuses, ...(s.body || s.query || s.path ? [400] : []), ...(s.also ?? [])])].sort((a, b) => a - b)
  const ok = '_zod' in s.ok ? { description: 'OK', ...json(s.ok as z.ZodType) } : s.ok as ZodOpenApiResponseObject
  return {
    tags: [family.tag],
    summary: s.summary,
    ...(s.description ? { description: s.description } : {}),
    ...(s.externalDocs ? { externalDocs: s.externalDocs } : {}),
    security: s.security ?? family.security,
    ...(s.path || s.query ? { requestParams: { ...(s.path ? { path: s.path } : {}), ...(s.query ? { query: s.query as z.ZodObject } : {}) } } : {}),
    ...(s.body ? { requestBody: { required: true, ...json(s.body) } } : {}),
    responses: { [String(s.status ?? 200)]: ok, ...errors(family.error, statuses) },
  }
}
