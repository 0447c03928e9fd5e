import { parseArgs, type ParseArgsConfig } from 'node:util'

/** A mistake in how a command was called: exit code 2, with the command's usage. */
export class UsageError extends Error {
  constructor(message: string, readonly usage?: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** The command ran and failed (not found, Redis down, refused): exit code 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CliError'
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | undefined>

/** Options every command takes. */
const COMMON_OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec

/**
 * node:util parseArgs in strict mode, its errors turned into UsageErrors carrying `usage`.
 * `positionals` names the required positional arguments (no more, no fewer).
 */
export function parseCommandArgs(argv: string[], options: OptionSpec, positionals: string[], usage: string): { values: Values, positionals: string[] } {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true })
  }
  catch (err) {
    // parseArgs messages are precise ("Unknown option '--nme'"); drop its hint about `--` for clarity.
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), usage)
  }
  const values = parsed.values as Values
  if (values.help) return { values, positionals: parsed.positionals }
  if (parsed.positionals.length < positionals.length) throw new UsageError(`missing ${positionals.slice(parsed.positionals.length).map(p => `<${p}>`).join(' ')}`, usage)
  if (parsed.positionals.length > positionals.length) throw new UsageError(`unexpected argument '${parsed.positionals[positionals.length]}'`, usage)
  return { values, positionals: parsed.positionals }
}

/** A whole number ≥ 0 from an option (undefined when absent). */
export function intOption(values: Values, name: string, usage: string): number | undefined {
  const n = numberOption(values, name, usage)
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be a whole number (got ${values[name]})`, usage)
  return n
}

/** A number ≥ 0 from an option (undefined when absent). */
export function numberOption(values: Values, name: string, usage: string): number | undefined {
  const raw = values[name]
  if (raw === undefined) return undefined
  const n = Number(raw)
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number ≥ 0 (got ${String(raw)})`, usage)
  return n
}

/** "a, b,c" → ["a","b","c"] (empty items dropped); undefined when the option is absent. */
export function listOption(values: Values, name: string): string[] | undefined {
  const raw = values[name]
  if (typeof raw !== 'string') return undefined
  return raw.split(',').map(s => s.trim()).filter(Boolean)
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }

/** "30d", "12h", "90m", "2w" (from `now`) or an ISO date-time → ISO string. */
export function parseExpiry(raw: string, usage: string, now = Date.now()): string {
  const rel = /^(\d+)\s*([mhdw])$/i.exec(raw.trim())
  if (rel) return new Date(now + Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!).toISOString()
  const t = Date.parse(raw)
  // Only full dates: Date.parse accepts "1" or "March" as well.
  if (!/^\d{4}-\d{2}-\d{2}/.test(raw) || Number.isNaN(t)) {
    throw new UsageError(`--expires must be a duration like 30d, 12h, 2w or an ISO date such as 2026-12-31T00:00:00Z (got ${raw})`, usage)
  }
  if (t <= now) throw new UsageError(`--expires ${raw} is in the past`, usage)
  return new Date(t).toISOString()
}
