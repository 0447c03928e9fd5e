export interface LogLine { level: number, time: string, msg: string, [k: string]: unknown }

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }
export const levelNumber = (name: string | undefined) => LEVELS[name ?? ''] ?? 0

/**
 * The last `size` log lines in memory for the admin's live view, and listeners for the stream.
 * A pino destination: lines (already redacted) are kept as written and parsed only when someone
 * reads them — the live view is rare, a line per request is not.
 */
export class LogRing {
  private readonly lines: string[] = []
  /** Where the next line goes once the ring is full (the oldest line's slot). */
  private next = 0
  private readonly listeners = new Set<(l: LogLine) => void>()

  constructor(private readonly size = 1000) {}

  write(raw: string): boolean {
    if (this.lines.length < this.size) this.lines.push(raw)
    else {
      this.lines[this.next] = raw
      this.next = (this.next + 1) % this.size
    }
    if (this.listeners.size) {
      const line = parse(raw)
      if (line) for (const l of this.listeners) l(line)
    }
    return true
  }

  /** The newest `limit` lines at or above `minLevel`, oldest first. */
  recent(limit: number, minLevel = 0): LogLine[] {
    const out: LogLine[] = []
    const n = this.lines.length
    for (let i = n - 1; i >= 0 && out.length < limit; i--) {
      const line = parse(this.lines[(this.next + i) % n]!)
      if (line && line.level >= minLevel) out.push(line)
    }
    return out.reverse()
  }

  subscribe(fn: (l: LogLine) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}

function parse(raw: string): LogLine | null {
  try {
    return JSON.parse(raw) as LogLine
  }
  catch {
    return null
  }
}
