import type Redis from 'ioredis'
import { ApiKeyCreateSchema } from '../../admin/schemas'
import { keyRejection } from '../../keys'
import { type ApiKeyInput, type ApiKeyRecord, createApiKey, deleteApiKey, getApiKey, listApiKeys, toView, updateApiKey } from '../../keys/records'
import { invalidation, rk } from '../../store/keys'
import { readKeyUsage } from '../../usage/record'
import { CliError, intOption, listOption, numberOption, parseExpiry, UsageError, type Values } from '../args'
import { type Command, helpText } from '../command'
import type { CliContext } from '../context'
import { fields, type Output, table, usd } from '../output'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A key by id, or by exact name (case-insensitive when no name matches exactly); fails when ambiguous. */
async function resolveKey(redis: Redis, ref: string): Promise<ApiKeyRecord> {
  if (UUID.test(ref)) {
    const byId = await getApiKey(redis, ref)
    if (byId) return byId
  }
  // api_key_search holds "name\ttags" lower-cased per id: one HGETALL finds the candidates.
  const search = await redis.hgetall(rk.apiKeySearch())
  const lower = ref.toLowerCase()
  const ids = Object.entries(search).filter(([, text]) => text.split('\t')[0] === lower).map(([id]) => id)
  const candidates = (await Promise.all(ids.map(id => getApiKey(redis, id)))).filter((r): r is ApiKeyRecord => r !== null)
  const exact = candidates.filter(r => r.name === ref)
  const found = exact.length ? exact : candidates
  if (found.length === 0) throw new CliError(`no API key with id or name "${ref}" (see: keys list)`)
  if (found.length > 1) throw new CliError(`${found.length} API keys are named "${ref}": use the id (${found.map(r => r.id).join(', ')})`)
  return found[0]!
}

const statusOf = (r: ApiKeyRecord) => (!r.isActive ? 'disabled' : keyRejection(r) ? 'expired' : 'active')

function limitsOf(r: ApiKeyRecord): string {
  const parts: string[] = []
  if (r.rateLimitWindow && r.rateLimitRequests) parts.push(`${r.rateLimitRequests} req/${r.rateLimitWindow}m`)
  if (r.rateLimitWindow && r.rateLimitTokens) parts.push(`${r.rateLimitTokens} tok/${r.rateLimitWindow}m`)
  if (r.rateLimitWindow && r.rateLimitCost) parts.push(`$${r.rateLimitCost}/${r.rateLimitWindow}m`)
  if (r.concurrencyLimit) parts.push(`${r.concurrencyLimit} concurrent`)
  if (r.dailyCostLimit) parts.push(`$${r.dailyCostLimit}/day`)
  if (r.weeklyCostLimit) parts.push(`$${r.weeklyCostLimit}/week`)
  if (r.totalCostLimit) parts.push(`$${r.totalCostLimit} total`)
  if (r.tokenLimit) parts.push(`${r.tokenLimit} tokens`)
  return parts.join(', ') || 'none'
}

const paintStatus = (out: Output, s: string) => out.paint(s === 'active' ? 'green' : s === 'disabled' ? 'yellow' : 'red', s)

// Option name → the record field it sets (for create, and to name the option in validation errors).
const NUMERIC: Record<string, keyof ApiKeyInput> = {
  'window': 'rateLimitWindow', 'limit-requests': 'rateLimitRequests', 'limit-tokens': 'rateLimitTokens', 'limit-cost': 'rateLimitCost',
  'concurrency': 'concurrencyLimit', 'daily-cost': 'dailyCostLimit', 'weekly-cost': 'weeklyCostLimit', 'total-cost': 'totalCostLimit', 'tokens': 'tokenLimit',
}
const WHOLE = new Set(['window', 'limit-requests', 'limit-tokens', 'concurrency', 'tokens'])
const FLAG_OF: Record<string, string> = {
  ...Object.fromEntries(Object.entries(NUMERIC).map(([flag, field]) => [field, flag])),
  name: 'name', description: 'description', tags: 'tags', expiresAt: 'expires', permissions: 'permissions', allowedModels: 'models', blockedModels: 'blocked-models',
}

function createInput(values: Values, usage: string): ApiKeyInput {
  const input: Record<string, unknown> = {
    name: values.name, description: values.description, tags: listOption(values, 'tags'), permissions: values.permissions,
    allowedModels: listOption(values, 'models'), blockedModels: listOption(values, 'blocked-models'),
    expiresAt: typeof values.expires === 'string' ? parseExpiry(values.expires, usage) : undefined,
  }
  for (const [flag, field] of Object.entries(NUMERIC)) input[field] = WHOLE.has(flag) ? intOption(values, flag, usage) : numberOption(values, flag, usage)
  // The admin API's own schema: the CLI accepts exactly what the API and UI accept.
  const parsed = ApiKeyCreateSchema.safeParse(Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)))
  if (!parsed.success) {
    throw new UsageError(parsed.error.issues.map(i => `--${FLAG_OF[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; '), usage)
  }
  return parsed.data as ApiKeyInput
}

const createUsage = helpText('keys create --name NAME [options]', 'Create an API key and print it once (only its HMAC is stored).', [
  ['--name NAME', 'name (required)'],
  ['--description TEXT', 'free text'],
  ['--tags a,b', 'tags'],
  ['--permissions P', 'all | claude | gemini (default all)'],
  ['--models GLOBS', 'allowed models, e.g. \'claude-sonnet-*,claude-haiku-*\' (default: all)'],
  ['--blocked-models GLOBS', 'models refused'],
  ['--expires WHEN', 'a duration from now (30d, 12h, 2w) or an ISO date-time'],
  ['--window MINUTES', 'rate-limit window length (needed by the --limit-* options)'],
  ['--limit-requests N', 'requests per window'],
  ['--limit-tokens N', 'tokens per window'],
  ['--limit-cost USD', 'cost per window'],
  ['--concurrency N', 'requests at the same time'],
  ['--daily-cost USD', 'cost per UTC day'],
  ['--weekly-cost USD', 'cost per ISO week'],
  ['--total-cost USD', 'cost over the key\'s lifetime'],
  ['--tokens N', 'tokens over the key\'s lifetime'],
], ['keys create --name ci-bot --window 1 --limit-requests 60 --daily-cost 5 --expires 30d --tags ci'])

const str = { type: 'string' } as const

async function withKey(ctx: CliContext, ref: string, act: (redis: Redis, r: ApiKeyRecord) => Promise<ApiKeyRecord | null>, verb: string) {
  const redis = await ctx.redis()
  const key = await resolveKey(redis, ref)
  const next = await act(redis, key)
  if (!next) throw new CliError(`API key ${key.id} disappeared while being ${verb}`)
  await ctx.invalidate(invalidation.apiKey(key.id))
  ctx.out.result(toView(next), () => `${verb[0]!.toUpperCase()}${verb.slice(1)} API key "${key.name}" (${key.id})`)
}

export const commands: Command[] = [
  {
    name: 'keys create',
    summary: 'create an API key (printed once)',
    usage: createUsage,
    options: { ...Object.fromEntries([...Object.keys(NUMERIC), 'name', 'description', 'tags', 'permissions', 'models', 'blocked-models', 'expires'].map(o => [o, str])) },
    async run(ctx, values) {
      if (!values.name) throw new UsageError('--name is required', createUsage)
      const input = createInput(values, createUsage)
      const redis = await ctx.redis()
      const { record, apiKey } = await createApiKey(redis, ctx.config().secrets.apiKeySalt, input)
      ctx.out.result({ ...toView(record), apiKey }, () => [
        `Created API key "${record.name}" (${record.id})`, '', `  ${ctx.out.paint('bold', apiKey)}`, '',
        'Save it now: it is shown only this once.',
      ])
    },
  },
  {
    name: 'keys list',
    summary: 'list API keys',
    usage: helpText('keys list [--search TEXT]', 'List API keys, newest first.', [['--search TEXT', 'only keys whose name or a tag contains TEXT']]),
    options: { search: str },
    async run(ctx, values) {
      const q = typeof values.search === 'string' ? values.search : undefined
      const { items, total } = await listApiKeys(await ctx.redis(), { offset: 0, limit: Number.MAX_SAFE_INTEGER, q, sort: 'createdAt', order: 'desc' })
      ctx.out.result({ items: items.map(toView), total }, () => items.length === 0
        ? q ? `No API key matches "${q}".` : 'No API keys yet (create one: keys create --name NAME).'
        : [
            ...table(['ID', 'NAME', 'STATUS', 'LIMITS', 'TAGS', 'LAST USED'], items.map(r => [
              r.id, r.name, statusOf(r), limitsOf(r), r.tags.join(',') || '-', r.lastUsedAt ?? 'never',
            ])),
            '', `${total} key${total === 1 ? '' : 's'}`,
          ])
    },
  },
  {
    name: 'keys show',
    summary: 'show one API key with its usage',
    usage: helpText('keys show <id|name>', 'Show an API key\'s settings and usage (never the key itself).'),
    args: ['id|name'],
    async run(ctx, _values, [ref]) {
      const redis = await ctx.redis()
      const r = await resolveKey(redis, ref!)
      const usage = await readKeyUsage(redis, r.id, 1)
      const today = usage.daily[0]!
      ctx.out.result({ ...toView(r), usage: { today, total: usage.total } }, () => fields([
        ['id', r.id], ['name', r.name], ['status', paintStatus(ctx.out, statusOf(r))], ['description', r.description || '-'],
        ['tags', r.tags.join(', ') || '-'], ['permissions', r.permissions], ['models', r.allowedModels.join(', ') || 'all'],
        ['blocked models', r.blockedModels.join(', ') || '-'], ['limits', limitsOf(r)], ['expires', r.expiresAt ?? 'never'],
        ['created', r.createdAt], ['last used', r.lastUsedAt ?? 'never'],
        ['today', `${today.requests} requests, ${usd(today.costMicros)}`], ['all time', `${usage.total.requests} requests, ${usd(usage.total.costMicros)}`],
      ]))
    },
  },
  {
    name: 'keys disable',
    summary: 'disable an API key (requests get 401)',
    usage: helpText('keys disable <id|name>', 'Disable an API key; running servers drop their cached copy at once.'),
    args: ['id|name'],
    run: (ctx, _v, [ref]) => withKey(ctx, ref!, (redis, r) => updateApiKey(redis, r.id, { isActive: false }), 'disabled'),
  },
  {
    name: 'keys enable',
    summary: 'enable an API key again',
    usage: helpText('keys enable <id|name>', 'Enable a disabled API key.'),
    args: ['id|name'],
    run: (ctx, _v, [ref]) => withKey(ctx, ref!, (redis, r) => updateApiKey(redis, r.id, { isActive: true }), 'enabled'),
  },
  {
    name: 'keys delete',
    summary: 'delete an API key and its limit state',
    usage: helpText('keys delete <id|name>', 'Delete an API key (its usage stays in the shared statistics).'),
    args: ['id|name'],
    run: (ctx, _v, [ref]) => withKey(ctx, ref!, (redis, r) => deleteApiKey(redis, r.id), 'deleted'),
  },
]
