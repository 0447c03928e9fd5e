import pino, { type Logger } from 'pino'
import { LogFile } from './files'
import { LogRing } from './ring'
import { LogWatcher, type WatcherState } from './watcher'

// Values under these paths are replaced before a line is written: headers that carry keys or
// tokens, any field named like a secret at any of the first two levels, and the arguments of a
// failed Redis command (ioredis puts them on its errors: key names, usage entries).
const REDACT = [
  'err.command',
  'headers.authorization', 'headers["x-api-key"]', 'headers["x-goog-api-key"]', 'headers.cookie',
  'apiKey', '*.apiKey', 'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken',
  'password', '*.password', 'token', '*.token', 'proxy', '*.proxy',
]

export interface LogOptions {
  level: string
  /** Directory of the log files; null: stdout only. */
  dir: string | null
  retentionDays: number
}

interface Logging { root: Logger, tokens: Logger, requests: Logger, ring: LogRing, files: LogFile[], watcher: LogWatcher | null }

let logging: Logging | undefined
let options: LogOptions = { level: process.env.LOG_LEVEL || 'info', dir: null, retentionDays: 14 }

/** Configure logging before first use (the boot plugin does, from LOG_LEVEL / LOG_DIR / LOG_RETENTION_DAYS). */
export function configureLogging(o: LogOptions): void {
  if (logging) closeLogging()
  options = o
}

function build(): Logging {
  const ring = new LogRing()
  const base = { pid: process.pid }
  const plain = { level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }
  const common = { ...plain, redact: { paths: REDACT, censor: '[redacted]' } }
  const stdout = pino.destination({ dest: 1, sync: false })
  if (!options.dir) {
    const streams = pino.multistream([{ level: options.level as pino.Level, stream: stdout }, { level: options.level as pino.Level, stream: ring }])
    const root = pino(common, streams)
    return { root, tokens: root.child({ component: 'token-refresh' }), requests: pino(plain, streams), ring, files: [], watcher: null }
  }
  const combined = new LogFile(options.dir, 'combined', options.retentionDays)
  const errors = new LogFile(options.dir, 'error', options.retentionDays)
  const refresh = new LogFile(options.dir, 'token-refresh', options.retentionDays)
  const lvl = options.level as pino.Level
  const streams = pino.multistream([
    { level: lvl, stream: stdout }, { level: lvl, stream: combined }, { level: 'error', stream: errors }, { level: lvl, stream: ring },
  ])
  const root = pino(common, streams)
  // Token refreshes get a log of their own, and appear in the combined log too.
  const tokens = pino({ ...common, base: { ...base, component: 'token-refresh' } }, pino.multistream([
    { level: lvl, stream: stdout }, { level: lvl, stream: combined }, { level: lvl, stream: refresh }, { level: 'error', stream: errors }, { level: lvl, stream: ring },
  ]))
  const files = [combined, errors, refresh]
  for (const f of files) f.prune()
  const watcher = new LogWatcher(options.dir, files, path => root.warn({ path }, 'log file was deleted or moved: re-created'))
  watcher.start()
  return { root, tokens, requests: pino(plain, streams), ring, files, watcher }
}

const useLogging = () => (logging ??= build())

/** The process logger: JSON lines on stdout and, with LOG_DIR, the combined and error files. */
export const useLogger = (): Logger => useLogging().root

/**
 * The logger of the one line per relayed request, to the same places as the process logger but
 * without the redaction pass (three quarters of a line's cost, ~28 of ~47 µs): that line is built
 * field by field from ids, numbers and bounded names (relay/steps.ts logRequest), never from a
 * header, body or error, so there is nothing in it to redact. Anything else logs through useLogger.
 */
export const useRequestLogger = (): Logger => useLogging().requests

/** The token-refresh logger (its own file as well). */
export const useTokenLogger = (): Logger => useLogging().tokens

/** The in-memory tail for the admin's live log view. */
export const useLogRing = (): LogRing => useLogging().ring

/** For /health: the file watcher's state (off when logging to stdout only). */
export function loggerState(): WatcherState {
  return useLogging().watcher?.state() ?? { status: 'off', files: 0, recreated: 0, lastRecreatedAt: null, lastError: null }
}

/** Flush and close the files and the watcher (shutdown). */
export function closeLogging(): void {
  const l = logging
  logging = undefined
  // Anything logged after shutdown goes to stdout only (no file or watcher left open).
  options = { ...options, dir: null }
  if (!l) return
  l.watcher?.close()
  for (const f of l.files) f.close()
}
