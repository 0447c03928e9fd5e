import { type Command, helpText } from '../command'
import { type CliContext, loadEnvFiles } from '../context'
import { countLegacyHashes } from '../../keys/legacy'
import { checkData, type Problem } from '../integrity'
import { checkSecrets } from '../secrets-check'

const view = (p: Problem) => ({ check: p.check, key: p.key, message: p.message, fixable: !!p.fix })

function problemLines(ctx: CliContext, problems: Problem[]): string[] {
  return problems.map(p => `  ${ctx.out.paint('red', '✗')} [${p.check}] ${p.key}: ${p.message}${p.fix ? ctx.out.paint('dim', ' (fixable)') : ''}`)
}

/** Apply every safe repair, then tell running servers about the records they cache. */
async function applyFixes(ctx: CliContext, problems: Problem[]): Promise<string[]> {
  const redis = await ctx.redis()
  const done: string[] = []
  const messages = new Set<string>()
  for (const p of problems) {
    if (!p.fix) continue
    await p.fix.apply(redis)
    done.push(p.fix.describe)
    if (p.fix.invalidate) messages.add(p.fix.invalidate)
  }
  for (const m of messages) await ctx.invalidate(m)
  return done
}

export const integrityCommand: Command = {
  name: 'check:integrity',
  summary: 'check Redis data and secrets',
  usage: helpText('[--fix]', [
    'Check the data under REDIS_KEY_PREFIX and the configured secrets: API key hash pointers and',
    'indexes, account indexes, encrypted account fields (they must decrypt with ENCRYPTION_KEY),',
    'data left behind by deleted keys and accounts, keys that should expire but do not, admin users,',
    'and the legacy hashes of keys imported from claude-relay-service (how many are left).',
    'Exit code 0 when nothing is wrong, 1 otherwise.',
  ].join('\n'), [['--fix', 'apply the safe repairs (re-create index and pointer entries, delete orphaned and dangling entries) and report what is left']],
  ['--fix --json'], 'npm run check:integrity --'),
  options: { fix: { type: 'boolean' } },
  async run(ctx, values) {
    loadEnvFiles()
    const secrets = checkSecrets(process.env)
    let cfg
    try {
      cfg = ctx.config()
    }
    catch (err) {
      // Without valid secrets the data cannot be checked: report what is wrong with them.
      const detail = secrets.length ? secrets : [{ check: 'secrets', key: 'config', message: (err as Error).message } as Problem]
      ctx.out.result({ ok: false, problems: detail.map(view), fixed: [], remaining: detail.map(view) }, () => ['Configuration problems (data not checked):', ...problemLines(ctx, detail)])
      return 1
    }
    const opts = { encryptionKey: cfg.secrets.encryptionKey, sessionSeconds: cfg.admin.sessionHours * 3600 }
    const found = [...secrets, ...await checkData(await ctx.redis(), opts)]
    const fixed = values.fix ? await applyFixes(ctx, found) : []
    const remaining = values.fix && fixed.length ? [...secrets, ...await checkData(await ctx.redis(), opts)] : found
    const where = `Redis at ${cfg.redis.describe}${cfg.redis.keyPrefix ? `, prefix "${cfg.redis.keyPrefix}"` : ''}`
    // Keys imported from claude-relay-service not used here yet (not a problem: each goes at its first use).
    const legacyKeyHashes = await countLegacyHashes(await ctx.redis())
    ctx.out.result({ ok: remaining.length === 0, problems: found.map(view), fixed, remaining: remaining.map(view), legacyKeyHashes }, () => {
      const lines = [`Integrity check of ${where}`]
      if (legacyKeyHashes) lines.push(`${legacyKeyHashes} legacy key hash${legacyKeyHashes === 1 ? '' : 'es'} left (keys imported from claude-relay-service, re-hashed at their first use here)`)
      if (found.length === 0) return [...lines, ctx.out.paint('green', 'No problems found.')]
      if (!values.fix) {
        const fixable = found.filter(p => p.fix).length
        return [...lines, ...problemLines(ctx, found), '',
          `${found.length} problem${found.length === 1 ? '' : 's'}${fixable ? ` (${fixable} fixable: run again with --fix)` : ''}`]
      }
      lines.push(`Fixed ${fixed.length}:`, ...fixed.map(f => `  ${ctx.out.paint('green', '✓')} ${f}`))
      if (remaining.length) lines.push('', `${remaining.length} problem${remaining.length === 1 ? '' : 's'} left (not fixable automatically):`, ...problemLines(ctx, remaining))
      else lines.push('', ctx.out.paint('green', 'No problems left.'))
      return lines
    })
    return remaining.length ? 1 : 0
  },
}
