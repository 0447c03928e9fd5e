import { ConfigError, useConfig } from '../config'
import { unusableDir } from '../config/paths'
import { bootstrapAdmin } from '../admin/users'
import { closeLogging, configureLogging, useLogger } from '../logging'
import { drainRelays } from '../relay/steps'
import { useJournal } from '../usage/journal-store'
import { closeRedis, createRedis, setRedis } from '../store/redis'
import { startInstance } from '../usage/lost'

const CONNECT_TIMEOUT_MS = 10_000

function fail(lines: string[]): never {
  // One clear message on stderr, then a non-zero exit: nothing can work without valid config/Redis.
  console.error(['[claude-relay] cannot start:', ...lines.map(l => `  ${l}`)].join('\n'))
  process.exit(1)
}

/**
 * Process start: validate config (exit naming the variable), connect Redis (exit naming
 * REDIS_URL / REDIS_HOST when it does not answer), create the first admin, announce this instance
 * (alive key, reaper). Shutdown: drain, flush usage, retire the instance, quit Redis (the connection
 * pools close in their own plugin).
 */
export default defineNitroPlugin((nitroApp) => {
  let cfg
  try {
    cfg = useConfig()
  }
  catch (err) {
    if (err instanceof ConfigError) fail(err.lines)
    throw err
  }
  const badLogDir = cfg.log.dir ? unusableDir(cfg.log.dir) : null
  if (badLogDir) fail([`LOG_DIR ${badLogDir}: point it at a writable directory, or set LOG_FILES=0 to log to stdout only.`])
  const badDataDir = unusableDir(cfg.dataDir)
  if (badDataDir) fail([`DATA_DIR ${badDataDir}: point it at a writable directory (usage waits there while Redis is away).`])
  configureLogging({ level: cfg.log.level, dir: cfg.log.dir, retentionDays: cfg.log.retentionDays })
  const log = useLogger()
  // server/entry.ts leaves the listen 'error' unhandled: a port that is taken ends the process here, in one line.
  process.prependListener('uncaughtException', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') fail([`Port ${cfg.port} on ${cfg.host} is already in use: stop the other process or set PORT.`])
  })
  const redis = createRedis(cfg.redis)
  setRedis(redis)
  let lastError = ''
  redis.on('error', (err) => {
    lastError = err.message
    log.warn({ err: err.message }, 'redis connection error')
  })
  // Usage journalled while Redis was away (or spilled by the last run) is written once it answers.
  redis.on('ready', () => void useJournal().flush())
  const howTo = 'Start Redis (apt-get install redis-server, brew install redis, or docker compose up -d redis) or set REDIS_URL.'

  const timer = setTimeout(() => fail([`Redis did not answer within ${CONNECT_TIMEOUT_MS / 1000} s at ${cfg.redis.describe}${lastError ? ` (${lastError})` : ''}.`, howTo]), CONNECT_TIMEOUT_MS)
  let instance: ReturnType<typeof startInstance> | undefined
  redis.connect()
    .then(async () => {
      clearTimeout(timer)
      // Alive key + reaper of dead instances' in-flight requests (counted lost: server/usage/lost.ts).
      instance = startInstance(redis, err => log.debug({ err }, 'instance heartbeat failed (Redis away?)'))
      const created = await bootstrapAdmin(redis, cfg.admin.username, cfg.admin.password)
      if (created?.generatedPassword) {
        console.log(`\n  Admin user created: ${created.username} / ${created.generatedPassword}\n  (shown once; set ADMIN_PASSWORD or change it in the admin UI)\n`)
      }
      else if (created) log.info({ username: created.username }, 'admin user created from ADMIN_USERNAME/ADMIN_PASSWORD')
      log.info({ port: cfg.port }, 'claude relay ready')
    })
    .catch((err: Error) => {
      clearTimeout(timer)
      fail([`Redis at ${cfg.redis.describe} failed: ${lastError || err.message}`, howTo])
    })

  nitroApp.hooks.hook('close', async () => {
    // Nitro stopped accepting and waited for open connections (NITRO_SHUTDOWN_TIMEOUT); requests
    // still recording their usage finish before Redis goes.
    await drainRelays(10_000)
    // Records still waiting for Redis get one more try, then go to DATA_DIR for the next start.
    await Promise.race([useJournal().flush(), new Promise(r => setTimeout(r, 2000))])
    useJournal().close()
    // Leave only when nothing of ours is still in flight (else the others count it lost when our
    // alive key expires, and a journalled record that lands later takes it back).
    await instance?.retire().catch(() => {})
    await closeRedis()
    closeLogging()
  })
})
