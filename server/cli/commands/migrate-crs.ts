import Redis from 'ioredis'
import { applyCrsImport, type CrsPlan, planCrsImport } from '../../migrate/crs/migrate'
import { crsSource } from '../../migrate/crs/source'
import { redactUrl } from '../../config'
import { CliError, UsageError } from '../args'
import { type Command, helpText } from '../command'
import { type CliContext, connectOrFail } from '../context'
import { count } from '../output'

/** A client on the CRS Redis that fails at once instead of retrying (a wrong URL ends the command). */
async function connectCrs(url: string): Promise<Redis> {
  if (!/^rediss?:\/\//.test(url)) throw new UsageError('--redis must be a redis:// or rediss:// URL', migrateCrsCommand.usage)
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: () => null, enableAutoPipelining: false })
  return connectOrFail(redis, `the claude-relay-service Redis at ${redactUrl(url, 'the given --redis URL')}`)
}

function offsetOption(raw: unknown): number {
  if (raw === undefined) return 8
  const n = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < -12 || n > 14) {
    throw new UsageError(`--crs-timezone-offset must be hours from UTC between -12 and 14 (got ${String(raw)})`, migrateCrsCommand.usage)
  }
  return n
}

/** The plan as counts (JSON-able; never a secret). */
function planView(plan: CrsPlan) {
  const by = (p: 'claude' | 'gemini') => plan.accounts.filter(a => a.platform === p).length
  return {
    found: plan.found,
    willImport: {
      apiKeys: plan.keys.length, accounts: { claude: by('claude'), gemini: by('gemini') },
      usage: { keyDays: plan.usage.keyDays, olderDays: plan.usage.olderDays, buckets: plan.usage.buckets.size },
    },
    problems: plan.problems,
  }
}

function planLines(plan: CrsPlan): string[] {
  const v = planView(plan)
  const a = v.found.accounts
  return [
    `Found ${count(v.found.apiKeys, 'API key')} (${v.found.deletedKeys} deleted ones ignored), Claude OAuth ${a['claude-oauth']}, Claude Console ${a['claude-console']}, Gemini OAuth ${a['gemini-oauth']}, Gemini API ${a['gemini-api']} account(s)`
    + (Object.keys(v.found.unsupported).length ? `; unsupported: ${Object.entries(v.found.unsupported).map(([k, n]) => `${k} ${n}`).join(', ')}` : ''),
    `Will import ${count(v.willImport.apiKeys, 'API key')}, ${count(v.willImport.accounts.claude, 'Claude account')}, ${count(v.willImport.accounts.gemini, 'Gemini account')}, ${v.willImport.usage.keyDays} key-days of usage (${v.willImport.usage.olderDays} older than 90 days go into the all-time totals only)`,
    ...(plan.problems.length ? [`${count(plan.problems.length, 'problem')}:`, ...plan.problems.map(p => `  - ${p}`)] : ['No problems.']),
  ]
}

export const migrateCrsCommand: Command = {
  name: 'migrate:crs',
  summary: 'import keys, accounts and usage history from a claude-relay-service deployment',
  usage: helpText('migrate:crs -- --redis URL --crs-encryption-key KEY [--dry-run] [--crs-timezone-offset HOURS]', [
    'Read a claude-relay-service (CRS) deployment\'s Redis (never writing to it) and import into this relay\'s',
    'Redis (config from the environment and .env): API keys with their limits, bindings and tags (clients keep',
    'their cr_ keys: the first request re-hashes each one), Claude OAuth/Console and Gemini OAuth/API accounts',
    '(secrets re-encrypted with this ENCRYPTION_KEY), and usage history (90 days daily, all-time totals).',
    'Running instances are told. A rerun replaces what the last one imported instead of adding it again.',
  ].join('\n'), [
    ['--redis URL', 'the CRS Redis, e.g. redis://:password@old-host:6379/0'],
    ['--crs-encryption-key KEY', 'the CRS deployment\'s ENCRYPTION_KEY (decrypts its accounts; checks its key hashes)'],
    ['--dry-run', 'print what was found and would be done, and every problem; write nothing'],
    ['--crs-timezone-offset HOURS', 'CRS\'s TIMEZONE_OFFSET, the zone of its daily usage dates (default 8)'],
  ], ['migrate:crs -- --redis redis://old-host:6379 --crs-encryption-key "$OLD_ENCRYPTION_KEY" --dry-run'], 'npm run'),
  options: { 'redis': { type: 'string' }, 'crs-encryption-key': { type: 'string' }, 'dry-run': { type: 'boolean' }, 'crs-timezone-offset': { type: 'string' } },
  async run(ctx: CliContext, values) {
    const url = values.redis
    const secret = values['crs-encryption-key']
    if (typeof url !== 'string' || !url) throw new UsageError('--redis URL is required', this.usage)
    if (typeof secret !== 'string' || !secret) throw new UsageError('--crs-encryption-key is required', this.usage)
    const offsetHours = offsetOption(values['crs-timezone-offset'])
    const crs = await connectCrs(url)
    try {
      let plan: CrsPlan
      try {
        plan = await planCrsImport(crsSource(crs), { crsSecret: secret, offsetHours })
      }
      catch (err) {
        throw new CliError((err as Error).message)
      }
      if (values['dry-run']) {
        ctx.out.result({ dryRun: true, ...planView(plan) }, () => ['Dry run: nothing written.', ...planLines(plan)])
        return
      }
      const redis = await ctx.redis()
      const summary = await applyCrsImport({ redis, cfg: ctx.config(), publish: m => ctx.invalidate(m) }, plan, secret)
        .catch((err: Error) => Promise.reject(new CliError(`import stopped: ${err.message}`)))
      ctx.out.result({ dryRun: false, ...planView(plan), result: summary }, () => [
        ...planLines(plan),
        `Imported: API keys ${summary.apiKeys.written} written, ${summary.apiKeys.unchanged} unchanged; accounts ${summary.accounts.written} written, ${summary.accounts.unchanged} unchanged`
        + `${summary.accounts.keptTokens ? ` (${summary.accounts.keptTokens} kept this relay's newer OAuth tokens)` : ''}; usage ${summary.usage.fields} counters in ${summary.usage.buckets} buckets.`,
      ])
    }
    finally {
      crs.disconnect()
    }
  },
}
