import { type FSWatcher, mkdirSync, watch } from 'node:fs'
import type { LogFile } from './files'

export interface WatcherState { status: 'healthy' | 'degraded' | 'off', files: number, recreated: number, lastRecreatedAt: string | null, lastError: string | null }

/**
 * Keeps the log files present under the running process: a directory watch (debounced, so a burst
 * of events re-creates a file once) plus a slow periodic check for what watch events miss (the
 * whole directory removed, network filesystems).
 */
export class LogWatcher {
  private watcher: FSWatcher | null = null
  private timer: NodeJS.Timeout | null = null
  private debounce: NodeJS.Timeout | null = null
  private recreated = 0
  private lastRecreatedAt: string | null = null
  private lastError: string | null = null

  constructor(private readonly dir: string, private readonly files: LogFile[], private readonly onRecreate: (path: string) => void, private readonly intervalMs = 2000) {}

  start(): void {
    this.watchDir()
    this.timer = setInterval(() => this.check(), this.intervalMs)
    this.timer.unref()
  }

  private watchDir(): void {
    try {
      this.watcher?.close()
      this.watcher = watch(this.dir, () => this.schedule())
      this.watcher.on('error', () => {
        this.watcher = null
      })
      this.lastError = null
    }
    catch (err) {
      this.watcher = null
      this.lastError = (err as Error).message
    }
  }

  private schedule(): void {
    if (this.debounce) return
    this.debounce = setTimeout(() => {
      this.debounce = null
      this.check()
    }, 100)
    this.debounce.unref()
  }

  /** Re-create whatever is missing (the directory too); re-arm the watch if it died. */
  check(): void {
    try {
      mkdirSync(this.dir, { recursive: true })
      for (const f of this.files) {
        if (f.ensure()) {
          this.recreated++
          this.lastRecreatedAt = new Date().toISOString()
          this.onRecreate(f.path)
        }
      }
      if (!this.watcher) this.watchDir()
    }
    catch (err) {
      this.lastError = (err as Error).message
    }
  }

  state(): WatcherState {
    return {
      status: this.lastError ? 'degraded' : this.timer ? 'healthy' : 'off',
      files: this.files.length, recreated: this.recreated, lastRecreatedAt: this.lastRecreatedAt, lastError: this.lastError,
    }
  }

  close(): void {
    this.watcher?.close()
    this.watcher = null
    if (this.timer) clearInterval(this.timer)
    if (this.debounce) clearTimeout(this.debounce)
    this.timer = null
  }
}
