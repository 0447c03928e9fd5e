// `npm run migrate:crs -- --redis URL --crs-encryption-key KEY [--dry-run] [--crs-timezone-offset HOURS]`.
import { migrateCrsCommand } from '../server/cli/commands/migrate-crs'
import { runCommand } from '../server/cli/main'

process.exitCode = await runCommand(migrateCrsCommand, process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
