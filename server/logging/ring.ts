export interface LogLine { level: number, time: string, msg: string, [k: string]: unknown }

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 }
export const levelNumber = (name: string | undefined) => LEVELS[name ?? ''] ?? 0

/**
 * The last `size` log lines in memory for the admin's live view, and listeners for the stream.
 * A pino destination: every written line (already redacted) is parsed once.
 */
export class LogRing {
  private readonly lines: LogLine[] = []
  private readonly listeners = new Set<(l: LogLine) => void>()

  constructor(private readonly size = 1000) {}

  write(raw: string): boolean {
    let line: LogLine
    try {
      line = JSON.parse(raw) as LogLine
    }
    catch {
      return true
    }
    this.lines.push(line)
    if (this.lines.length > this.size) this.lines.shift()
    for (const l of this.listeners) l(line)
    return true
  }

  /** The newest `limit` lines at or above `minLevel`, oldest first. */
  recent(limit: number, minLevel = 0): LogLine[] {
    const out: LogLine[] = []
    for (let i = this.lines.length - 1; i >= 0 && out.length < limit; i--) {
      if (this.lines[i]!.level >= minLevel) out.push(this.lines[i]!)
    }
    return out.reverse()
  }

  subscribe(fn: (l: LogLine) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }
}
