import { readFileSync, writeFileSync } from 'node:fs'
import { CliError, UsageError } from '../args'
import { type Command, helpText } from '../command'
import type { CliContext } from '../context'
import { count } from '../output'
import { exportData } from '../data-export'
import { importData } from '../data-import'
import { parseDataFile } from '../data-format'

const PROG = 'npm run'
const toStdout = (path: unknown) => path === undefined || path === '-'

async function readInput(ctx: CliContext, path: string): Promise<string> {
  if (path !== '-') {
    try {
      return readFileSync(path, 'utf8')
    }
    catch (err) {
      throw new CliError(`cannot read ${path}: ${(err as Error).message}`)
    }
  }
  let text = ''
  for await (const chunk of ctx.stdin) text += chunk.toString()
  return text
}

const exportCommand: Command = {
  name: 'export',
  summary: 'write keys, accounts, admins, prices and usage to a JSON file',
  usage: helpText('data:export -- --out FILE [--decrypt]', [
    'Write API keys, Claude and Gemini accounts (with their states), admins, price overrides,',
    'last-used stamps and usage buckets to one JSON file. Secrets stay encrypted as stored (only',
    'an installation with the same ENCRYPTION_KEY can use them) unless --decrypt is given.',
    'Sessions, locks, rate windows and sticky bindings are not exported.',
  ].join('\n'), [
    ['--out FILE', 'the file to write (created with mode 600); "-" or none: stdout'],
    ['--decrypt', 'write account secrets (API keys, OAuth tokens, proxy URLs) as PLAINTEXT, for a move to another ENCRYPTION_KEY'],
  ], ['data:export -- --out backup.json'], PROG),
  options: { out: { type: 'string' }, decrypt: { type: 'boolean' } },
  async run(ctx, values) {
    const cfg = ctx.config()
    const data = await exportData(await ctx.redis(), cfg.secrets, { decrypt: !!values.decrypt })
    const out = values.out
    if (values.decrypt) ctx.out.warn(`${toStdout(out) ? 'the output' : out} holds PLAINTEXT secrets (upstream API keys, OAuth tokens, proxy passwords): keep it private and delete it after the import`)
    const text = `${JSON.stringify(data, null, 2)}\n`
    const summary = {
      file: toStdout(out) ? null : out, secrets: data.secrets, apiKeys: data.apiKeys.length, accounts: data.accounts.length,
      admins: data.admins.length, pricingOverrides: Object.keys(data.pricingOverrides).length, usageKeys: data.usage.length,
    }
    if (toStdout(out)) {
      ctx.out.streams.stdout.write(text)
      return
    }
    writeFileSync(out as string, text, { mode: 0o600 })
    ctx.out.result(summary, () => `Exported ${count(summary.apiKeys, 'API key')}, ${count(summary.accounts, 'account')}, ${count(summary.admins, 'admin')}, ${count(summary.pricingOverrides, 'price override')} and ${count(summary.usageKeys, 'usage key')} to ${out} (secrets ${data.secrets})`)
  },
}

const importCommand: Command = {
  name: 'import',
  summary: 'read a data file into Redis',
  usage: helpText('data:import -- --in FILE', [
    'Read a file written by data:export into Redis under REDIS_KEY_PREFIX. Records in the file replace',
    'those with the same id, and its usage buckets replace those of the same hour/day/month; everything',
    'else stays. Running it twice gives the same result.',
    'Plaintext secrets (an export with --decrypt) are encrypted with the current ENCRYPTION_KEY.',
    'Refuses files of another format version, and encrypted secrets made with another ENCRYPTION_KEY.',
  ].join('\n'), [['--in FILE', 'the file to read ("-": stdin)']], ['data:import -- --in backup.json'], PROG),
  options: { in: { type: 'string' } },
  async run(ctx, values) {
    const path = typeof values.in === 'string' ? values.in : undefined
    if (!path) throw new UsageError('--in FILE is required ("-" reads stdin)', this.usage)
    const file = parseDataFile(await readInput(ctx, path), path === '-' ? 'stdin' : path)
    const cfg = ctx.config()
    const result = await importData(await ctx.redis(), file, cfg.secrets)
    for (const w of result.warnings) ctx.out.warn(w)
    for (const m of result.invalidate) await ctx.invalidate(m)
    const { invalidate: _i, warnings: _w, ...summary } = result
    ctx.out.result({ file: path, ...summary }, () => [
      `Imported ${count(summary.apiKeys, 'API key')}, ${count(summary.accounts.claude, 'Claude account')}, ${count(summary.accounts.gemini, 'Gemini account')}, ${count(summary.admins, 'admin')}, ${count(summary.pricingOverrides, 'price override')} and ${count(summary.usageKeys, 'usage key')} from ${path}`,
      ...(summary.usageExpired ? [`(${count(summary.usageExpired, 'usage key')} expired since the export: skipped)`] : []),
    ])
  },
}

/** `tsx scripts/data.ts export|import …` */
export const dataCommands: Record<string, Command> = { export: exportCommand, import: importCommand }
