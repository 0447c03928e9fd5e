import pino, { type Logger } from 'pino'

// Values under these paths are replaced before a line is written: headers that carry keys or
// tokens, and any field named like a secret, at any of the first two levels.
const REDACT = [
  'headers.authorization', 'headers["x-api-key"]', 'headers["x-goog-api-key"]', 'headers.cookie',
  'apiKey', '*.apiKey', 'accessToken', '*.accessToken', 'refreshToken', '*.refreshToken',
  'password', '*.password', 'token', '*.token', 'proxy', '*.proxy',
]

let root: Logger | undefined

/** The process logger (JSON lines on stdout; level from LOG_LEVEL). */
export function useLogger(): Logger {
  if (!root) {
    root = pino({
      level: process.env.LOG_LEVEL || 'info',
      base: { pid: process.pid },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    })
  }
  return root
}
