// `npm run data:export -- --out FILE [--decrypt]`, `npm run data:import -- --in FILE`.
import { UsageError } from '../server/cli/args'
import { dataCommands } from '../server/cli/commands/data'
import { execute, runCommand } from '../server/cli/main'

const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
const [verb = '', ...rest] = process.argv.slice(2)
const command = dataCommands[verb]
const usage = 'Usage: tsx scripts/data.ts export --out FILE [--decrypt] | import --in FILE'
process.exitCode = command
  ? await runCommand(command, rest, io)
  : await execute(rest, io, () => Promise.reject(new UsageError(`expected export or import (got '${verb}')`, usage)))
