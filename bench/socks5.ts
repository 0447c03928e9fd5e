// A minimal SOCKS5 proxy for the bench (RFC 1928: no authentication, CONNECT to an IPv4, IPv6 or
// domain-name target) in its own process, so its CPU stays apart from the load generator's.
// BENCH_SOCKS_DELAY_MS holds every new tunnel that long before answering the CONNECT (a proxy far
// away: each new connection pays it, a kept-alive one does not). Prints `SOCKS_URL=<url>` once
// listening; exits when its parent closes stdin or sends SIGTERM.
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'

const DELAY_MS = Number(process.env.BENCH_SOCKS_DELAY_MS ?? 0)
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/** Reads exact byte counts off a socket during the handshake; `rest()` hands back what came after. */
function reader(socket: Socket) {
  let buf = Buffer.alloc(0)
  let wake: (() => void) | null = null
  const onData = (d: Buffer) => {
    buf = Buffer.concat([buf, d])
    wake?.()
  }
  socket.on('data', onData)
  return {
    async read(n: number): Promise<Buffer> {
      while (buf.length < n) {
        if (socket.destroyed) throw new Error('closed during the handshake')
        await new Promise<void>((resolve) => {
          wake = resolve
          socket.once('close', resolve)
        })
        wake = null
      }
      const out = buf.subarray(0, n)
      buf = buf.subarray(n)
      return out
    },
    rest(): Buffer {
      socket.off('data', onData).pause()
      return buf
    },
  }
}

/** A reply with status `rep` (0 = succeeded, 1 = failure, 7 = command not supported) and a zero IPv4 bound address. */
const reply = (rep: number) => Buffer.from([5, rep, 0, 1, 0, 0, 0, 0, 0, 0])

async function handshake(client: Socket): Promise<void> {
  const input = reader(client)
  const [version, methods] = await input.read(2)
  if (version !== 5) return void client.destroy()
  if (!(await input.read(methods!)).includes(0)) return void client.end(Buffer.from([5, 0xFF]))
  client.write(Buffer.from([5, 0]))
  const [, command, , type] = await input.read(4)
  let host: string
  if (type === 1) host = [...await input.read(4)].join('.')
  else if (type === 3) host = (await input.read((await input.read(1))[0]!)).toString('utf8')
  else if (type === 4) host = ((await input.read(16)).toString('hex').match(/.{4}/g) ?? []).join(':')
  else return void client.end(reply(8))
  const port = (await input.read(2)).readUInt16BE(0)
  if (command !== 1) return void client.end(reply(7))
  if (DELAY_MS > 0) await sleep(DELAY_MS)
  const target = connect(port, host)
  target.once('connect', () => {
    target.setNoDelay(true)
    client.write(reply(0))
    const head = input.rest()
    if (head.length) target.write(head)
    client.pipe(target).pipe(client)
    client.resume()
  })
  target.on('error', () => (target.connecting ? client.end(reply(1)) : client.destroy()))
  client.once('close', () => target.destroy())
  target.once('close', () => client.destroy())
}

const server = createServer((client) => {
  client.setNoDelay(true)
  client.on('error', () => client.destroy())
  handshake(client).catch(() => client.destroy())
})
await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
console.log(`SOCKS_URL=socks5://127.0.0.1:${(server.address() as AddressInfo).port}`)

const stop = () => process.exit(0)
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.stdin.on('end', stop)
process.stdin.on('close', stop)
process.stdin.resume()
