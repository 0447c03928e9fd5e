// The fake Anthropic upstream in its own process, so its CPU stays apart from the load
// generator's and the relay's. Prints `UPSTREAM_URL=<url>` once listening; exits when its
// parent closes stdin or sends SIGTERM, so it never outlives the bench.
import { FakeAnthropic } from '../tests/fixtures/anthropic-upstream'

const fake = new FakeAnthropic()
fake.behaviour.deltas = Number(process.env.BENCH_DELTAS ?? fake.behaviour.deltas)
fake.behaviour.delayMs = Number(process.env.BENCH_DELAY_MS ?? 0)

await fake.start()
console.log(`UPSTREAM_URL=${fake.url}`)

// The fixture records every request for tests; a benchmark would grow that list without bound.
const trim = setInterval(() => {
  fake.requests.length = 0
}, 500)

let stopping = false
async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  clearInterval(trim)
  await fake.stop().catch(() => {})
  process.exit(0)
}

process.on('SIGTERM', () => void stop())
process.on('SIGINT', () => void stop())
process.stdin.on('end', () => void stop())
process.stdin.on('close', () => void stop())
process.stdin.resume()
