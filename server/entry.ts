// The production server: Nitro's node-server entry (nitropack/dist/presets/node/runtime/node-server.mjs)
// with the socket bounds of docs/architecture.md "Connection limits". Node's defaults (headers 60 s,
// request 300 s, checked every 30 s, no connection cap) let one host hold every socket, and the
// preset creates its server without options. Same env as the preset: PORT/HOST (or NITRO_*),
// NITRO_UNIX_SOCKET, NITRO_SSL_CERT/KEY, NITRO_SHUTDOWN_TIMEOUT. No websockets or tasks here.
import '#nitro-internal-pollyfills'
import { createServer, type ServerOptions } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { toNodeListener } from 'h3'
import { useNitroApp } from 'nitropack/runtime'
// `/index`: nitropack's types map has no bare `runtime/internal` (the preset's import resolves to the same file).
import { setupGracefulShutdown, trapUnhandledNodeErrors } from 'nitropack/runtime/internal/index'
import { useConfig } from './config'

// Runs the plugins: 00.boot validates the config (exiting with one message when it is wrong).
const nitroApp = useNitroApp()
const bounds = useConfig().server

const options: ServerOptions = {
  // Node refuses headersTimeout > requestTimeout; the headers are part of the request anyway.
  headersTimeout: Math.min(bounds.headersTimeoutMs, bounds.requestTimeoutMs),
  // Covers receiving the request only: a response (a relay stream) may last as long as it needs.
  requestTimeout: bounds.requestTimeoutMs,
  // How often Node looks for sockets past those two timeouts (its default, 30 s, would add up to
  // 30 s to each bound).
  connectionsCheckingInterval: 1000,
}
const cert = process.env.NITRO_SSL_CERT
const key = process.env.NITRO_SSL_KEY
const listener = toNodeListener(nitroApp.h3App)
const server = cert && key ? createHttpsServer({ ...options, cert, key }, listener) : createServer(options, listener)
server.keepAliveTimeout = bounds.keepAliveTimeoutMs
// Past this, Node closes a new connection at once (without an answer) until one ends.
server.maxConnections = bounds.maxConnections
// Headers past this count are dropped, not refused (Node's behaviour); their total size stays
// bounded by Node's maxHeaderSize (16 KiB: a bigger header block gets 431).
server.maxHeadersCount = bounds.maxHeadersCount

const socket = process.env.NITRO_UNIX_SOCKET
const port = Number(process.env.NITRO_PORT || process.env.PORT || 3000)
const host = process.env.NITRO_HOST || process.env.HOST
// A port in use is an 'error' event left unhandled on purpose: 00.boot reports it in one line.
// A burst of new clients waits in the backlog (the kernel caps it at net.core.somaxconn); past it their SYNs are dropped.
server.listen(socket ? { path: socket, backlog: bounds.listenBacklog } : { port, host, backlog: bounds.listenBacklog }, () => {
  const address = server.address() as AddressInfo | string
  if (typeof address === 'string') return console.log(`Listening on unix socket ${address}`)
  const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address
  console.log(`Listening on ${cert && key ? 'https' : 'http'}://${hostname}:${address.port}`)
})

trapUnhandledNodeErrors()
setupGracefulShutdown(server, nitroApp)

export default {}
