import { z } from 'zod'
import { parseProxyUrl } from '../upstream/dispatchers'

/** Route params `:id` (uuid). */
export const IdParamsSchema = z.object({ id: z.string().uuid({ error: 'id must be a UUID' }) })

const isoDate = z.string().datetime({ offset: true, error: 'must be an ISO 8601 date-time, e.g. 2026-12-31T00:00:00Z' })

export const ApiKeyCreateSchema = z.object({
  name: z.string().trim().min(1, 'name is required').max(100),
  description: z.string().max(500).optional(),
  isActive: z.boolean().optional(),
  expiresAt: isoDate.nullable().optional(),
}).strict()

export const ApiKeyUpdateSchema = ApiKeyCreateSchema.partial().strict()

const proxySchema = z.string().nullable().superRefine((v, ctx) => {
  if (v === null) return
  try {
    parseProxyUrl(v)
  }
  catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message })
  }
})

const httpUrl = z.string().url().refine(u => /^https?:\/\//.test(u), 'must be an http(s) URL').transform(u => u.replace(/\/+$/, ''))

const accountFields = {
  name: z.string().trim().min(1, 'name is required').max(100),
  description: z.string().max(500).optional(),
  apiUrl: httpUrl,
  apiKey: z.string().trim().min(1, 'apiKey is required'),
  priority: z.number().int().min(0).max(1000).optional(),
  isActive: z.boolean().optional(),
  proxy: proxySchema.optional(),
}

export const ClaudeAccountCreateSchema = z.object({
  type: z.literal('console', { error: 'type must be "console" (OAuth accounts arrive with the Claude OAuth feature)' }),
  ...accountFields,
}).strict()

export const ClaudeAccountUpdateSchema = z.object(accountFields).partial().strict()

/**
 * A validator for h3's readValidatedBody/getValidatedRouterParams that fails with one readable
 * message naming each bad field ("name: is required; priority: must be …").
 */
export function validate<S extends z.ZodType>(schema: S) {
  return (data: unknown): z.output<S> => {
    const r = schema.safeParse(data)
    if (r.success) return r.data
    throw new Error(r.error.issues.map(i => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
  }
}
