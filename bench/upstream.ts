// The fake Anthropic upstream in its own process, so its CPU stays apart from the load
// generator's and the relay's. Prints `UPSTREAM_URL=<url>` once listening; exits when its
// parent closes stdin or sends SIGTERM, so it never outlives the bench.
//
// Env: BENCH_DELTAS (content_block_delta events per answer), BENCH_DELAY_MS (between SSE events),
// BENCH_HEADER_DELAY_MS (before answering at all: time to first byte), BENCH_UPSTREAM_TLS=1 (HTTPS
// with the test certificate, tests/fixtures/tls), BENCH_UPSTREAM_HTTP2=1 (HTTPS offering HTTP/2 by
// ALPN, HTTP/1.1 still accepted).
import { FakeAnthropic } from '../tests/fixtures/anthropic-upstream'

const env = process.env
const fake = new FakeAnthropic({ tls: env.BENCH_UPSTREAM_TLS === '1', http2: env.BENCH_UPSTREAM_HTTP2 === '1' })
fake.behaviour.deltas = Number(env.BENCH_DELTAS ?? fake.behaviour.deltas)
fake.behaviour.delayMs = Number(env.BENCH_DELAY_MS ?? 0)
fake.behaviour.headerDelayMs = Number(env.BENCH_HEADER_DELAY_MS ?? 0)

await fake.start()
console.log(`UPSTREAM_URL=${fake.url}`)

// The fixture records every request for tests; a benchmark would grow that list without bound.
const trim = setInterval(() => {
  fake.requests.length = 0
  fake.tlsErrors.length = 0
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
