import type { LogLine } from '~~/server/logging/ring'

export type { LogLine }

/** Levels the stream can be cut at, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const
export type LogLevel = typeof LOG_LEVELS[number]

/** Pino's level numbers by name (for the level column). */
export const LOG_LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

const MAX_LINES = 1000

/** The fields of a line other than the standard ones, as `k=v` text. */
export function logDetails(l: LogLine): string {
  const { level: _l, time: _t, msg: _m, pid: _p, hostname: _h, ...rest } = l
  return Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(' ')
}

/**
 * The live log (GET /api/admin/logs/stream, server-sent events): the last 200 lines at or above
 * `level`, then each new one; a new level reconnects. While `paused`, lines are held (counted in
 * `heldCount`) and added on resume. `shown` is newest first, filtered by `search`; at most 1,000
 * lines are kept.
 */
export function useLogStream() {
  const level = ref<LogLevel>('info')
  const search = ref('')
  const paused = ref(false)
  const connected = ref(false)
  const lines = ref<LogLine[]>([])
  const held: LogLine[] = []
  const heldCount = ref(0)
  let source: EventSource | null = null

  function push(add: LogLine[]) {
    const next = lines.value.concat(add)
    lines.value = next.length > MAX_LINES ? next.slice(-MAX_LINES) : next
  }

  function connect() {
    source?.close()
    lines.value = []
    source = new EventSource(`/api/admin/logs/stream?level=${level.value}&tail=200`, { withCredentials: true })
    source.onopen = () => {
      connected.value = true
    }
    source.onerror = () => {
      connected.value = false
    }
    source.onmessage = (e) => {
      const line = JSON.parse(e.data) as LogLine
      if (paused.value) {
        held.push(line)
        heldCount.value = held.length
        return
      }
      push([line])
    }
  }

  function togglePause() {
    paused.value = !paused.value
    if (!paused.value && held.length) {
      push(held.splice(0))
      heldCount.value = 0
    }
  }

  function clear() {
    lines.value = []
  }

  const shown = computed(() => {
    const q = search.value.trim().toLowerCase()
    const list = q ? lines.value.filter(l => JSON.stringify(l).toLowerCase().includes(q)) : lines.value
    return list.slice().reverse()
  })

  watch(level, connect)
  onMounted(connect)
  onBeforeUnmount(() => source?.close())

  return { level, search, paused, connected, heldCount, shown, togglePause, clear }
}
