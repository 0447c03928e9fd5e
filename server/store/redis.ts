import Redis, { type RedisOptions } from 'ioredis'
import type { Config } from '../config'
import { defineScripts } from './scripts'

/** ioredis options from config: prefix on every key, reconnect with capped backoff. */
export function redisOptions(cfg: Config['redis']): RedisOptions {
  const ha: RedisOptions = cfg.sentinels
    // Sentinel: ioredis asks the sentinels for the master and follows it through a failover.
    ? { sentinels: cfg.sentinels, name: cfg.sentinelName, sentinelPassword: cfg.sentinelPassword, sentinelRetryStrategy: times => Math.min(100 * 2 ** times, 5000) }
    : {}
  return {
    ...ha,
    host: cfg.host,
    port: cfg.port,
    password: cfg.password,
    db: cfg.db,
    keyPrefix: cfg.keyPrefix,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    // Commands issued in the same tick by concurrent requests share one write (fewer syscalls).
    enableAutoPipelining: true,
    retryStrategy: times => Math.min(100 * 2 ** times, 5000),
  }
}

/**
 * The server's client for the configured Redis (not yet connected: call connect()). A command that
 * gets no answer within REDIS_COMMAND_TIMEOUT_MS fails (`isStoreOutage`), so a paused or
 * restarting Redis costs a request a bounded wait and a 503, never a stall. While disconnected a
 * command fails at once instead of waiting in ioredis' offline queue, and a command left without
 * an answer by a dropped connection is not sent again: either would run a write the caller already
 * counts as failed (and journals for a retry), so usage would be counted twice.
 */
export function createRedis(cfg: Config['redis']): Redis {
  const opts = { ...redisOptions(cfg), commandTimeout: cfg.commandTimeoutMs, enableOfflineQueue: false, autoResendUnfulfilledCommands: false }
  return defineScripts(cfg.url && !cfg.sentinels ? new Redis(cfg.url, opts) : new Redis(opts))
}

// ioredis' words for "no answer": a timeout, a closed or unwritable connection, a command of a
// pipeline (scripts run in one) cut by the connection closing, retries used up.
const OUTAGE = /Command timed out|Connection is closed|Command aborted due to connection close|Stream isn't writeable|max retries per request|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|READONLY|MASTERDOWN|TRYAGAIN/i

/** True when an error means Redis did not answer (down, paused, restarting, failing over) — not a bug. */
export function isStoreOutage(err: unknown): boolean {
  const e = err as { name?: string, message?: string } | null
  return !!e && (e.name === 'MaxRetriesPerRequestError' || e.name === 'AbortError' || OUTAGE.test(e.message ?? ''))
}

/** True when the client has a live connection (false while reconnecting). */
export const storeReady = (): boolean => client?.status === 'ready'

let client: Redis | undefined
let subscriber: Redis | undefined
const channelHandlers = new Map<string, Set<(message: string) => void>>()

/** Install the process-wide client (done once by the redis plugin). */
export function setRedis(r: Redis): void {
  client = r
}

/** The process-wide Redis client. */
export function useRedis(): Redis {
  if (!client) throw new Error('Redis is not initialised (the redis plugin has not run)')
  return client
}

/**
 * Subscribe to a pub/sub channel (the channel name gets the key prefix, so instances that share
 * a prefix share events). One subscriber connection serves every channel.
 */
export function subscribe(channel: string, handler: (message: string) => void): void {
  const r = useRedis()
  const full = r.options.keyPrefix + channel
  let set = channelHandlers.get(full)
  if (!set) {
    set = new Set()
    channelHandlers.set(full, set)
    if (!subscriber) {
      // Subscriptions may be asked for before the connection is up, and are renewed on reconnect.
      subscriber = r.duplicate({ keyPrefix: '', enableAutoPipelining: false, enableOfflineQueue: true, commandTimeout: undefined })
      subscriber.on('message', (ch: string, msg: string) => channelHandlers.get(ch)?.forEach(h => h(msg)))
      subscriber.on('error', () => { /* reconnects on its own; the main client reports health */ })
    }
    void subscriber.subscribe(full)
  }
  set.add(handler)
}

/** Publish on a prefixed channel. */
export async function publish(channel: string, message: string): Promise<void> {
  const r = useRedis()
  await r.publish(r.options.keyPrefix + channel, message)
}

/** Quit both connections (Nitro close hook). */
export async function closeRedis(): Promise<void> {
  await Promise.allSettled([subscriber?.quit(), client?.quit()])
  subscriber = undefined
  client = undefined
  channelHandlers.clear()
}
