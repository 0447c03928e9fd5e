// `npm run check:integrity [-- --fix] [--json]`: check (and repair) the data in Redis and the secrets.
import { integrityCommand } from '../server/cli/commands/integrity'
import { runCommand } from '../server/cli/main'

process.exitCode = await runCommand(integrityCommand, process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
