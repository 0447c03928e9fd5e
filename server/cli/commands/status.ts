import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type Redis from 'ioredis'
import { effectiveState, readStates } from '../../accounts/state'
import type { Platform } from '../../accounts/store'
import { rk } from '../../store/keys'
import { dashboardUsage } from '../../usage/stats'
import { CliError, numberOption, UsageError } from '../args'
import { type Command, helpText } from '../command'
import { loadEnvFiles } from '../context'
import { fields, usd } from '../output'
import { scanKeys } from '../scan'

/** Accounts of a platform counted by state (`disabled` for inactive ones); reads no secret. */
async function accountsByState(redis: Redis, platform: Platform): Promise<Record<string, number>> {
  const ids = await redis.smembers(rk.accountIndex(platform))
  const states = await readStates(redis, platform)
  const pipe = redis.pipeline()
  for (const id of ids) pipe.hget(rk.account(platform, id), 'isActive')
  const active = ((await pipe.exec()) ?? []).map(([, v]) => v === '1')
  const out: Record<string, number> = {}
  ids.forEach((id, i) => {
    const s = active[i] ? effectiveState(states.get(id)).state : 'disabled'
    out[s] = (out[s] ?? 0) + 1
  })
  return out
}

const countsText = (c: Record<string, number>) => Object.entries(c).map(([s, n]) => `${n} ${s}`).join(', ') || 'none'

/** GET `url` with a timeout; the connection is not kept alive (the CLI exits right after). */
function get(url: URL, timeoutMs: number): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => body += c)
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    req.end()
  })
}

const healthUsage = helpText('health [--url URL] [--timeout SECONDS] [--strict]', 'Ask a running instance for GET /health. Exit code 0 when healthy (or degraded), 1 when unhealthy or unreachable.', [
  ['--url URL', 'base URL of the instance (default http://127.0.0.1:$PORT, PORT from env/.env or 3000)'],
  ['--timeout SECONDS', 'give up after this long (default 5)'],
  ['--strict', 'exit 1 when degraded too'],
], ['health --url http://relay.internal:3000 --json'])

export const commands: Command[] = [
  {
    name: 'status',
    summary: 'Redis, counts of keys and accounts, today\'s usage',
    usage: helpText('status', 'Check Redis (latency), count API keys, admins and accounts by platform and state, and show today\'s usage.'),
    async run(ctx) {
      const redis = await ctx.redis()
      const t0 = performance.now()
      await redis.ping()
      const latencyMs = Math.round((performance.now() - t0) * 100) / 100
      const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? 'unknown'
      const [keys, admins, claude, gemini, usage] = await Promise.all([
        redis.zcard(rk.apiKeyIndex()), scanKeys(redis, rk.adminUsername('*')),
        accountsByState(redis, 'claude'), accountsByState(redis, 'gemini'), dashboardUsage(redis),
      ])
      const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0)
      const report = {
        redis: { status: 'ok', latencyMs, version, prefix: ctx.config().redis.keyPrefix },
        keys: { total: keys },
        admins: { total: admins.length },
        accounts: { total: sum(claude) + sum(gemini), claude: { total: sum(claude), byState: claude }, gemini: { total: sum(gemini), byState: gemini } },
        usage: { today: usage.today, total: usage.total, keysUsedToday: usage.keysUsedToday, accountsUsedToday: usage.accountsUsedToday, rpm: usage.rpm, tpm: usage.tpm },
      }
      const t = usage.today
      ctx.out.result(report, () => fields([
        ['redis', `${ctx.out.paint('green', 'ok')} (${latencyMs} ms, Redis ${version}${report.redis.prefix ? `, prefix "${report.redis.prefix}"` : ''})`],
        ['api keys', String(keys)],
        ['admins', String(admins.length)],
        ['claude accounts', `${sum(claude)}${sum(claude) ? ` (${countsText(claude)})` : ''}`],
        ['gemini accounts', `${sum(gemini)}${sum(gemini) ? ` (${countsText(gemini)})` : ''}`],
        ['today', `${t.requests} requests, ${t.tokens} tokens, ${usd(t.costMicros)}; ${usage.keysUsedToday} keys, ${usage.accountsUsedToday} accounts`],
        ['all time', `${usage.total.requests} requests, ${usage.total.tokens} tokens, ${usd(usage.total.costMicros)}`],
        ['last 5 min', `${usage.rpm} req/min, ${usage.tpm} tokens/min`],
      ]))
    },
  },
  {
    name: 'health',
    summary: 'GET /health of a running instance',
    usage: healthUsage,
    options: { url: { type: 'string' }, timeout: { type: 'string' }, strict: { type: 'boolean' } },
    async run(ctx, values) {
      loadEnvFiles()
      let base: URL
      try {
        base = new URL(typeof values.url === 'string' ? values.url : `http://127.0.0.1:${process.env.PORT || 3000}`)
      }
      catch {
        throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000 (got ${String(values.url)})`, healthUsage)
      }
      const timeoutMs = (numberOption(values, 'timeout', healthUsage) ?? 5) * 1000
      const url = new URL('/health', base)
      let res
      try {
        res = await get(url, timeoutMs)
      }
      catch (err) {
        throw new CliError(`${url} is unreachable: ${(err as Error).message}`)
      }
      let report: { status?: string, version?: string, uptime?: number, components?: Record<string, { status?: string }> }
      try {
        report = JSON.parse(res.body)
      }
      catch {
        throw new CliError(`${url} answered ${res.status} with something other than a health report`)
      }
      const status = report.status ?? 'unknown'
      ctx.out.result({ url: url.toString(), httpStatus: res.status, ...report }, () => [
        `${url}: ${ctx.out.paint(status === 'healthy' ? 'green' : status === 'degraded' ? 'yellow' : 'red', status)} (HTTP ${res.status}, version ${report.version ?? '?'}, up ${report.uptime ?? '?'} s)`,
        ...Object.entries(report.components ?? {}).map(([name, c]) => `  ${name}: ${c?.status ?? '?'}`),
      ])
      return status === 'healthy' || (status === 'degraded' && !values.strict) ? 0 : 1
    },
  },
]
