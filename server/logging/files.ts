import { existsSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import SonicBoom from 'sonic-boom'

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/**
 * One log file written as `<dir>/<name>-<YYYY-MM-DD>.log` (UTC days): a new file each day, old
 * ones pruned after the retention, and re-created by `ensure()` when it was deleted or moved away
 * under the running process. A pino destination (it has `write`).
 */
export class LogFile {
  private dest: SonicBoom
  private date: string
  recreated = 0

  constructor(readonly dir: string, readonly name: string, private readonly retentionDays: number, now = Date.now()) {
    mkdirSync(dir, { recursive: true })
    this.date = day(now)
    this.dest = new SonicBoom({ dest: this.path, mkdir: true, sync: false })
  }

  get path(): string {
    return join(this.dir, `${this.name}-${this.date}.log`)
  }

  write(line: string): boolean {
    const today = day(Date.now())
    if (today !== this.date) this.rotate(today)
    return this.dest.write(line)
  }

  private rotate(today: string): void {
    this.date = today
    this.dest.reopen(this.path)
    this.prune()
  }

  /** Re-create the file if it is gone (deleted or moved); true when it was. */
  ensure(): boolean {
    if (existsSync(this.path)) return false
    mkdirSync(this.dir, { recursive: true })
    this.dest.reopen(this.path)
    this.recreated++
    return true
  }

  /** Remove this log's files older than the retention. */
  prune(now = Date.now()): void {
    if (!this.retentionDays) return
    const cutoff = now - this.retentionDays * 86_400_000
    const re = new RegExp(`^${this.name}-(\\d{4}-\\d{2}-\\d{2})\\.log$`)
    for (const f of safeList(this.dir)) {
      const m = re.exec(f)
      if (m && Date.parse(`${m[1]}T00:00:00Z`) < cutoff) {
        try {
          unlinkSync(join(this.dir, f))
        }
        catch { /* already gone */ }
      }
    }
  }

  flush(): void {
    try {
      this.dest.flushSync()
    }
    catch { /* not ready yet */ }
  }

  close(): void {
    this.flush()
    this.dest.end()
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir).filter(f => statSync(join(dir, f)).isFile())
  }
  catch {
    return []
  }
}
