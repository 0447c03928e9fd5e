import { z } from 'zod'
import { createDocument, type ZodOpenApiPathsObject } from 'zod-openapi'
import { version } from '../../package.json'
import { SESSION_COOKIE } from '../admin/sessions'
import { ADMIN_SECURITY, adminPaths } from './admin-paths'
import { CLIENT_SECURITY, clientPaths } from './client-paths'
import { type Family, operation } from './operations'
import { AdminError, open } from './shapes'

export type OpenApiDocument = ReturnType<typeof createDocument>

const system: Family = { tag: 'system', security: [], error: AdminError, statuses: [] }

/** What is not under /api (server/routes), and this document itself. */
const systemPaths: ZodOpenApiPathsObject = {
  '/health': {
    get: operation(system, {
      summary: 'Health of Redis, the connection pools and the logger (503 when unhealthy)',
      ok: z.looseObject({ status: z.enum(['healthy', 'degraded', 'unhealthy']), components: z.looseObject({}), version: z.string(), uptime: z.number() }),
      also: [503],
    }),
  },
  '/connection-pools': { get: operation({ ...system, security: ADMIN_SECURITY, statuses: [401] }, { summary: 'Every account\'s connection pool', ok: open('Per-account pool state') }) },
  '/metrics': {
    get: operation({ ...system, security: [{ metricsToken: [] }, ...ADMIN_SECURITY], statuses: [401] }, {
      summary: 'Prometheus metrics', ok: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } },
    }),
  },
  '/api/openapi.json': { get: operation(system, { summary: 'This document (public: it holds shapes, no data)', ok: open('OpenAPI 3.1') }) },
}

/** The OpenAPI 3.1 document of every route the server answers, generated from the zod schemas the handlers validate with. */
export function createOpenApiDocument(): OpenApiDocument {
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Claude Relay Service',
      version,
      description: 'The client API (Claude, Gemini and OpenAI protocols, with a relay key `cr_…`) and the admin API (with an admin session). '
        + 'Unknown paths under /api/v1, /claude, /api/gemini, /gemini and /openai answer 404 in that protocol\'s error shape.',
    },
    servers: [{ url: '/', description: 'This relay' }],
    tags: [
      { name: 'claude', description: 'Anthropic Messages API (`ANTHROPIC_BASE_URL=http://HOST:3000/api`)' },
      { name: 'gemini', description: 'Gemini API and Gemini CLI\'s Code Assist (`GOOGLE_GEMINI_BASE_URL=http://HOST:3000/gemini`)' },
      { name: 'openai', description: 'OpenAI chat completions into Claude or Gemini (`OPENAI_BASE_URL=http://HOST:3000/openai/v1`)' },
    ],
    components: {
      securitySchemes: {
        adminBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from POST /api/admin/auth/login.' },
        adminCookie: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The HttpOnly session cookie login sets (writes must come from the console\'s origin).' },
        clientApiKey: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'A relay key (`cr_…`).' },
        clientBearer: { type: 'http', scheme: 'bearer', description: 'A relay key (`cr_…`) as `Authorization: Bearer`.' },
        clientGoogApiKey: { type: 'apiKey', in: 'header', name: 'x-goog-api-key', description: 'A relay key (`cr_…`), as Google\'s SDKs send it.' },
        clientKeyQuery: { type: 'apiKey', in: 'query', name: 'key', description: 'A relay key (`cr_…`) as `?key=`.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when it is set.' },
      },
    },
    security: CLIENT_SECURITY,
    paths: { ...clientPaths, ...adminPaths, ...systemPaths },
  })
}

let document: OpenApiDocument | undefined

/** The document, built on first use and kept for the process (it depends on code only, never on config or data). */
export function useOpenApiDocument(): OpenApiDocument {
  document ??= createOpenApiDocument()
  return document
}
