// The floor: the least any relay written in Node must do per request, in its own process, so that
// `npm run bench` can say how much of the relay's CPU is the relay and how much is Node itself.
// It reads the client's body whole, parses it as JSON (every relay must read the model and the
// stream flag), sends it on over a pool of keep-alive connections (undici, as the relay does) and
// copies the answer back as it comes — no key check, no limits, no accounting, no log line, no
// metrics. Prints `FLOOR_URL=<url>` once listening; exits when its parent closes stdin or sends
// SIGTERM, so it never outlives the bench.
//
// Env: UPSTREAM_URL (where every request goes, path kept), FLOOR_UPSTREAM_KEY (the x-api-key sent on).
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const upstreamUrl = process.env.UPSTREAM_URL
if (!upstreamUrl) {
  console.error('floor: UPSTREAM_URL is not set')
  process.exit(2)
}
const upstreamKey = process.env.FLOOR_UPSTREAM_KEY ?? 'sk-ant-api03-bench-floor'
const upstream = new Pool(upstreamUrl, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000 })

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)
  const parsed = JSON.parse(body.toString('utf8')) as { stream?: unknown }
  const answer = await upstream.request({
    method: 'POST', path: req.url ?? '/', body,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': upstreamKey },
  })
  const type = answer.headers['content-type']
  res.writeHead(answer.statusCode, { 'content-type': typeof type === 'string' ? type : parsed.stream === true ? 'text/event-stream' : 'application/json' })
  for await (const chunk of answer.body) res.write(chunk)
  res.end()
}

const server = createServer((req, res) => {
  relay(req, res).catch((err: Error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
    res.end(`floor: ${err.message}`)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => console.log(`FLOOR_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const stop = () => {
  server.close()
  void upstream.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
