// The floor: the least any relay written in Node must do per request, in its own process, so that
// the benches can say how much of the relay's CPU (and of its added latency) is the relay and how
// much is Node itself. It reads the client's body whole, parses it as JSON (every relay must read
// the model and the stream flag), sends it on over keep-alive connections and copies the answer
// back as it comes — no key check, no limits, no accounting, no usage tap, no log line, no metrics,
// no timeouts. Prints `FLOOR_URL=<url>` once listening; exits when its parent closes stdin or sends
// SIGTERM, so it never outlives the bench.
//
// Env: UPSTREAM_URL (where every request goes, path kept); FLOOR_HTTP2=1: HTTP/2 to it over TLS
// (node:http2, FLOOR_HTTP2_SESSIONS sessions taken in turn, default 4), as the relay speaks to an
// upstream that offers it; else HTTP/1.1 through an undici pool without a connection ceiling.
// NODE_EXTRA_CA_CERTS trusts a test CA.
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http'
import { type ClientHttp2Session, connect } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

const upstreamUrl = process.env.UPSTREAM_URL
if (!upstreamUrl) {
  console.error('floor: UPSTREAM_URL is not set')
  process.exit(2)
}
const UPSTREAM_HEADERS = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': 'sk-ant-api03-bench-floor' }

type Send = (path: string, body: Buffer, res: ServerResponse) => Promise<void>

function http1(): { send: Send, close: () => Promise<void> } {
  const pool = new Pool(upstreamUrl!, { pipelining: 1, keepAliveTimeout: 30_000 })
  return {
    async send(path, body, res) {
      const answer = await pool.request({ method: 'POST', path, body, headers: UPSTREAM_HEADERS })
      const type = answer.headers['content-type']
      res.writeHead(answer.statusCode, typeof type === 'string' ? { 'content-type': type } : {})
      for await (const chunk of answer.body) res.write(chunk)
      res.end()
    },
    close: () => pool.close(),
  }
}

function http2(sessions: number): { send: Send, close: () => Promise<void> } {
  const open: ClientHttp2Session[] = Array.from({ length: sessions }, () => connect(upstreamUrl!))
  let next = 0
  return {
    send: (path, body, res) => new Promise((resolve, reject) => {
      const stream = open[next++ % open.length]!.request({ ':method': 'POST', ':path': path, ...UPSTREAM_HEADERS })
      stream.on('error', reject)
      stream.on('response', (headers) => {
        const type = headers['content-type']
        res.writeHead(Number(headers[':status']), typeof type === 'string' ? { 'content-type': type } : {})
        stream.on('data', (chunk: Buffer) => res.write(chunk))
        stream.on('end', () => {
          res.end()
          resolve()
        })
      })
      stream.end(body)
    }),
    close: async () => {
      for (const s of open) s.close()
    },
  }
}

const upstream = process.env.FLOOR_HTTP2 === '1' ? http2(Number(process.env.FLOOR_HTTP2_SESSIONS ?? 4)) : http1()

async function relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const body = Buffer.concat(chunks)
  JSON.parse(body.toString('utf8'))
  await upstream.send(req.url ?? '/', body, res)
}

const server = createServer((req, res) => {
  relay(req, res).catch((err: Error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
    res.end(`floor: ${err.message}`)
  })
})
server.keepAliveTimeout = 60_000
// The relay's default LISTEN_BACKLOG: a burst of new clients waits instead of having its SYNs dropped.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => console.log(`FLOOR_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}`))

const stop = () => {
  server.close()
  void upstream.close().finally(() => process.exit(0))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
