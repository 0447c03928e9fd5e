// `npm run cli -- <command>`: operate an instance through its Redis (see server/cli/main.ts).
import { main } from '../server/cli/main'

process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr })
