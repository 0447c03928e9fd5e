import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FakeAnthropic } from '../fixtures/anthropic-upstream'
import { messageBody, rawRequest } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'

// Issue 13: Redis high availability through Sentinel (REDIS_SENTINELS / REDIS_SENTINEL_NAME). A
// master, a replica and one sentinel run privately; the master is killed and the sentinel promotes
// the replica: the relay follows without a restart and never answers 500.

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))
const dir = mkdtempSync(join(tmpdir(), 'crs-sentinel-'))
const procs: ChildProcess[] = []

function run(args: string[]): ChildProcess {
  const p = spawn('redis-server', args, { stdio: 'ignore' })
  procs.push(p)
  return p
}

async function answers(port: number): Promise<void> {
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  c.on('error', () => {})
  for (let i = 0; i < 100; i++) {
    try {
      await c.connect()
      await c.ping()
      break
    }
    catch { await sleep(50) }
  }
  c.disconnect()
}

const upstream = new FakeAnthropic()
let master: ChildProcess
let replicaPort = 0
let sentinelPort = 0
let server: TestServer
let apiKey = ''

beforeAll(async () => {
  await upstream.start()
  const masterPort = await freePort()
  replicaPort = await freePort()
  sentinelPort = await freePort()
  const common = (name: string) => ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(join(dir, name))]
  master = run(['--port', String(masterPort), ...common('master-')])
  run(['--port', String(replicaPort), ...common('replica-'), '--replicaof', '127.0.0.1', String(masterPort)])
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(conf, [
    `port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`,
    `sentinel monitor mymaster 127.0.0.1 ${masterPort} 1`,
    'sentinel down-after-milliseconds mymaster 1000', 'sentinel failover-timeout mymaster 10000',
  ].join('\n'))
  run([conf, '--sentinel'])
  await Promise.all([answers(masterPort), answers(replicaPort), answers(sentinelPort)])
  // The replica has the master's data before anything is written through the relay.
  const replica = new Redis({ port: replicaPort, host: '127.0.0.1' })
  for (let i = 0; i < 200 && !(await replica.info('replication')).includes('master_link_status:up'); i++) await sleep(50)
  replica.disconnect()
  // …and the sentinel has found the replica (from the master's INFO), so it has one to promote.
  const sentinel = new Redis({ port: sentinelPort, host: '127.0.0.1' })
  for (let i = 0; i < 300 && !((await sentinel.call('SENTINEL', 'REPLICAS', 'mymaster')) as unknown[]).length; i++) await sleep(50)
  sentinel.disconnect()
  server = await new TestServer(
    { REDIS_URL: '', REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'mymaster', API_KEY_CACHE_SECONDS: '3600' },
    { redisUrl: `redis://127.0.0.1:${masterPort}` },
  ).start()
  // start() waited for the admin user on the private master: the relay found it through the sentinel.
  await server.createConsoleAccount(upstream.url)
  apiKey = (await server.createKey({ name: 'through sentinel' })).apiKey
}, 60_000)
afterAll(async () => {
  await server?.kill('SIGKILL')
  server?.redis.disconnect()
  for (const p of procs) p.kill('SIGKILL')
  await upstream.stop()
})

const send = () => rawRequest(`${server.url}/api/v1/messages`, { headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: messageBody() })

describe('Redis Sentinel', () => {
  it('serves through the master the sentinel names, and follows a failover without a restart', async () => {
    expect((await send()).status).toBe(200)
    master.kill('SIGKILL')
    const statuses: number[] = []
    let promoted = false
    const until = Date.now() + 30_000
    while (Date.now() < until && !promoted) {
      statuses.push((await send()).status)
      const health = await fetch(`${server.url}/health`)
      promoted = health.status === 200 && (await health.json() as { components: { redis: { status: string } } }).components.redis.status === 'healthy'
      await sleep(200)
    }
    expect(promoted).toBe(true)
    expect(statuses).not.toContain(500)
    // The promoted replica is the master now: admin writes work and requests are recorded there.
    const replica = new Redis({ port: replicaPort, host: '127.0.0.1' })
    try {
      await expect.poll(async () => (await replica.info('replication')).includes('role:master'), { timeout: 10_000 }).toBe(true)
    }
    finally {
      replica.disconnect()
    }
    expect((await send()).status).toBe(200)
    const key = await server.admin<{ id: string }>('POST', '/api/admin/api-keys', { name: 'after failover' })
    expect(key.status).toBe(201)
  }, 60_000)
})
