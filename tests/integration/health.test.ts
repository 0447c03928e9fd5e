import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pollUntil } from '../helpers/client'
import { freePort, TestServer } from '../helpers/server'

const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
    return true
  }
  catch {
    return false
  }
})()

// A private Redis the test can stop, to see /health turn unhealthy and recover.
describe.skipIf(!hasRedisServer)('/health when Redis goes away', () => {
  let redis: ChildProcess
  let port = 0
  let server: TestServer

  const startRedis = () => {
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  }
  const health = async () => {
    const res = await fetch(`${server.url}/health`)
    return { status: res.status, body: await res.json() as { status: string, components: { redis: { status: string } } } }
  }

  beforeAll(async () => {
    port = await freePort()
    startRedis()
    const url = `redis://127.0.0.1:${port}`
    await pollUntil(async () => {
      const r = spawn('redis-cli', ['-p', String(port), 'ping'])
      return new Promise<boolean>(done => r.once('exit', code => done(code === 0)))
    }, ok => ok, 5000)
    server = new TestServer({ REDIS_URL: url }, { redisUrl: url })
    await server.start()
  })
  afterAll(async () => {
    await server.stop()
    redis.kill('SIGKILL')
  })

  it('is healthy, then 503 unhealthy while Redis is down, then healthy again', async () => {
    expect(await health()).toMatchObject({ status: 200, body: { status: 'healthy', components: { redis: { status: 'healthy' } } } })
    redis.kill('SIGKILL')
    const down = await pollUntil(health, h => h.status === 503, 10_000)
    expect(down.body).toMatchObject({ status: 'unhealthy', components: { redis: { status: 'unhealthy' } } })
    startRedis()
    const up = await pollUntil(health, h => h.status === 200, 15_000)
    expect(up.body.status).toBe('healthy')
  })
})
