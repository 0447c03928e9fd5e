import type { OptionSpec, Values } from './args'
import type { CliContext } from './context'

/** One CLI command (`keys create`, `status`, …). */
export interface Command {
  /** Full name as typed: "keys create", "status". */
  name: string
  summary: string
  /** The --help text: synopsis, description, options, examples. */
  usage: string
  options?: OptionSpec
  /** Required positional arguments, by name. */
  args?: string[]
  /** Resolves to the exit code; anything but a number means 0. */
  run: (ctx: CliContext, values: Values, args: string[]) => Promise<unknown>
}

/** How the CLI is invoked, for help texts. */
export const PROG = 'npm run cli --'

/** A command's --help text from its parts (options as [flags, description] pairs). */
export function helpText(synopsis: string, description: string, options: [string, string][] = [], examples: string[] = [], prog = PROG): string {
  const all: [string, string][] = [...options, ['--json', 'machine-readable output (no colours)'], ['-h, --help', 'show this help']]
  const w = Math.max(...all.map(([f]) => f.length))
  const lines = [`Usage: ${prog} ${synopsis}`, '', description, '', 'Options:', ...all.map(([f, d]) => `  ${f.padEnd(w)}  ${d}`)]
  if (examples.length) lines.push('', 'Examples:', ...examples.map(e => `  ${prog} ${e}`))
  return lines.join('\n')
}
