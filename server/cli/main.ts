import { CliError, parseCommandArgs, UsageError } from './args'
import { type Command, PROG } from './command'
import { CliContext } from './context'
import { Output, type Streams } from './output'

// Command modules load on demand: `health` need not load the account or usage code.
const GROUPS: Record<string, { summary: string, load: () => Promise<{ commands: Command[] }> }> = {
  keys: { summary: 'API keys: create, list, show, disable, enable, delete', load: () => import('./commands/keys') },
  accounts: { summary: 'upstream accounts: list, refresh (OAuth token), reset (state)', load: () => import('./commands/accounts') },
  admin: { summary: 'admin users: create, reset-password, list', load: () => import('./commands/admin') },
  status: { summary: 'Redis, counts of keys and accounts, today\'s usage', load: () => import('./commands/status') },
  health: { summary: 'GET /health of a running instance (exit 1 when unhealthy)', load: () => import('./commands/status') },
}

const MAIN_USAGE = [
  `Usage: ${PROG} <command> [options]`,
  '',
  'Manage a Claude Relay Service instance through its Redis (config from the environment and .env).',
  '',
  'Commands:',
  ...Object.entries(GROUPS).map(([name, g]) => `  ${name.padEnd(10)}${g.summary}`),
  '',
  'Every command takes --json (machine-readable output) and --help.',
  `Exit codes: 0 ok, 1 failure, 2 usage error. Details: ${PROG} <command> --help`,
].join('\n')

const groupUsage = (group: string, commands: Command[]) => [
  `Usage: ${PROG} ${group} <command> [options]`, '', 'Commands:',
  ...commands.map(c => `  ${c.name.padEnd(Math.max(...commands.map(x => x.name.length)) + 2)}${c.summary}`),
  '', `Details: ${PROG} ${group} <command> --help`,
].join('\n')

export interface CliIo extends Streams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
}

const isFlag = (a: string) => a.startsWith('-')

/** Find the command named by the first words of argv; the rest are its options and arguments. */
async function resolve(argv: string[]): Promise<{ command?: Command, rest: string[], usage: string }> {
  // Options before the command's name (--json, --help) are passed on to it.
  const lead = argv.filter((a, i) => isFlag(a) && argv.slice(0, i).every(isFlag))
  const words = argv.slice(lead.length)
  const groupName = words[0]
  if (!groupName || groupName === 'help') return { rest: lead, usage: MAIN_USAGE }
  const group = Object.hasOwn(GROUPS, groupName) ? GROUPS[groupName] : undefined
  if (!group) throw new UsageError(`unknown command '${groupName}'`, MAIN_USAGE)
  const { commands } = await group.load()
  const single = commands.find(c => c.name === groupName)
  if (single) return { command: single, rest: [...lead, ...words.slice(1)], usage: single.usage }
  const inGroup = commands.filter(c => c.name.startsWith(`${groupName} `))
  const usage = groupUsage(groupName, inGroup)
  const sub = words[1]
  if (!sub || isFlag(sub)) return { rest: [...lead, ...words.slice(1)], usage }
  const command = inGroup.find(c => c.name === `${groupName} ${sub}`)
  if (!command) throw new UsageError(`unknown command '${groupName} ${sub}'`, usage)
  return { command, rest: [...lead, ...words.slice(2)], usage: command.usage }
}

/**
 * Run `body` with a context; map failures to exit codes (2 usage, with the usage text; 1 anything
 * else) and messages on stderr; close Redis at the end.
 */
export async function execute(argv: string[], io: CliIo, body: (ctx: CliContext) => Promise<number>): Promise<number> {
  const json = argv.includes('--json')
  const out = new Output(io, json)
  const ctx = new CliContext(out, io.stdin)
  try {
    return await body(ctx)
  }
  catch (err) {
    if (err instanceof UsageError) {
      out.error(err.message)
      if (err.usage && !json) io.stderr.write(`\n${err.usage}\n`)
      return 2
    }
    out.error(err instanceof CliError ? err.message : `unexpected failure: ${(err as Error).stack ?? String(err)}`)
    return 1
  }
  finally {
    await ctx.close()
  }
}

/** Parse `argv` for `command` and run it (or print its help). */
async function runParsed(ctx: CliContext, command: Command, argv: string[], usage = command.usage): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, command.options ?? {}, command.args ?? [], usage)
  if (values.help) {
    ctx.out.line(usage)
    return 0
  }
  const code = await command.run(ctx, values, positionals)
  return typeof code === 'number' ? code : 0
}

/** Run a stand-alone command (the integrity check, the data tools) with the CLI's conventions. */
export const runCommand = (command: Command, argv: string[], io: CliIo) => execute(argv, io, ctx => runParsed(ctx, command, argv))

/** Run the CLI; returns the exit code (0 ok, 1 failure, 2 usage error). */
export function main(argv: string[], io: CliIo): Promise<number> {
  return execute(argv, io, async (ctx) => {
    const { command, rest, usage } = await resolve(argv)
    if (command) return runParsed(ctx, command, rest, usage)
    // `cli`, `cli keys`: the overview; asked for with --help it is not an error.
    if (rest.includes('--help') || rest.includes('-h') || argv[0] === 'help') {
      ctx.out.line(usage)
      return 0
    }
    throw new UsageError(argv.length ? 'missing command' : 'no command given', usage)
  })
}
