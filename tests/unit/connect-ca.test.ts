import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { connect, createSecureContext, createServer, type Server } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_TLS } from '../fixtures/anthropic-upstream'
import { createConnector } from '../../server/upstream/connect'

/** CPU ms (user + system) `fn` takes. */
async function cpuMs(fn: () => Promise<void>): Promise<number> {
  const t0 = process.cpuUsage()
  await fn()
  const d = process.cpuUsage(t0)
  return (d.user + d.system) / 1000
}

// UPSTREAM_CA_FILE adds a CA to the system's ~145: building a TLS context from them costs ~20 ms
// of CPU, which the connector used to pay on every new upstream connection (found by
// bench:streams: 3× the CPU per stream). The context is built once per file now.
describe('UPSTREAM_CA_FILE: new TLS connections reuse one secure context', () => {
  let server: Server
  let port = 0
  beforeAll(async () => {
    server = createServer({ cert: readFileSync(TEST_TLS.certFile), key: readFileSync(TEST_TLS.keyFile) }, s => s.end())
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  afterAll(() => new Promise<void>(r => server.close(() => r())))

  const N = 20

  it('costs about what a TLS handshake with a prebuilt context costs (not ~20 ms more each)', async () => {
    const connector = createConnector(null, TEST_TLS.caFile)
    const viaConnector = async () => {
      for (let i = 0; i < N; i++) (await connector({ protocol: 'https:', hostname: '127.0.0.1', port })).destroy()
    }
    const context = createSecureContext({ ca: readFileSync(TEST_TLS.caFile, 'utf8') })
    const reference = async () => {
      for (let i = 0; i < N; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = connect({ host: '127.0.0.1', port, secureContext: context }, () => {
            s.destroy()
            resolve()
          }).on('error', reject)
        })
      }
    }
    await viaConnector() // warm-up (JIT, and the one context build)
    await reference()
    const ours = await cpuMs(viaConnector)
    const base = await cpuMs(reference)
    // Old code: ~20 ms per connection more than the reference (ratio ≈ 10–50×).
    expect(ours / N - base / N).toBeLessThan(5)
  })
})
