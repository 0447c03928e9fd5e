import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { dirname } from 'node:path'
import type { UsageEvent } from './record'

/** Writes one record; `retry` is true when an earlier attempt failed without an answer. */
export type RecordWriter = (e: UsageEvent, retry: boolean) => Promise<unknown>

export interface JournalOptions {
  /** Records held in memory while Redis is away; beyond it they go to `spillFile`. */
  maxInMemory: number
  /** Where records wait beyond the memory bound, across a shutdown, and until the next start. */
  spillFile: string
  /** Redis did not answer (retry later) — as opposed to a bug, which retrying cannot fix. */
  isOutage: (err: unknown) => boolean
  onDrop: (e: UsageEvent, err: unknown) => void
  retryMs?: number
}

interface Item { e: UsageEvent, retry: boolean }

/** A spilled record is one JSON line `{ retry, e }`; `at` comes back as a Date. Null when corrupt. */
function parseLine(line: string): { e: UsageEvent, retry: boolean } | null {
  try {
    const o = JSON.parse(line) as { e: UsageEvent & { at: string }, retry: boolean }
    return { e: { ...o.e, at: new Date(o.e.at) }, retry: o.retry === true }
  }
  catch {
    return null // a line cut off by a crash mid-write: nothing to replay
  }
}

/**
 * Usage records that could not be written yet (Redis down, paused, restarting, failing over),
 * kept and retried in order until they land: in memory up to a bound, then appended to a file
 * that also takes the memory queue at shutdown and is replayed at the next start. Every retry
 * carries the request id, so a record whose first attempt did land is not counted twice.
 */
export class UsageJournal {
  private queue: Item[] = []
  /** The record being written by the drain right now (never moved to the file behind its back). */
  private inflight: Item | null = null
  private flushing: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private closed = false
  /** Records in the spill file not yet replayed (counted from its lines at start). */
  private spilled = 0

  constructor(private readonly write: RecordWriter, private readonly o: JournalOptions) {
    mkdirSync(dirname(o.spillFile), { recursive: true })
    this.spilled = this.readSpill().length
    if (this.spilled) this.schedule()
  }

  /** Records waiting: in memory and in the spill file. */
  get backlog(): { queued: number, spilled: number } {
    return { queued: this.queue.length, spilled: this.spilled }
  }

  /** Write a record now, or keep it for later when Redis does not answer (or older ones wait). */
  async submit(e: UsageEvent): Promise<void> {
    if (this.closed || this.queue.length || this.spilled) return this.enqueue({ e, retry: false })
    try {
      await this.write(e, false)
    }
    catch (err) {
      if (!this.o.isOutage(err)) return this.o.onDrop(e, err)
      // No answer: the script may have run. Its retry looks for the request id first.
      this.enqueue({ e, retry: true })
    }
  }

  /** Try the backlog now (Redis is back); resolves when it is empty or Redis failed again. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = null
    })
    return this.flushing
  }

  /** Stop retrying and put everything still in memory into the spill file (shutdown). */
  close(): void {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    // A record being written as we stop may land or not: its replay checks first.
    if (this.inflight) this.inflight.retry = true
    this.spill(this.queue)
    this.queue = []
  }

  private enqueue(item: Item): void {
    if (this.closed) return this.spill([item])
    this.queue.push(item)
    // Beyond the bound the waiting records move to the file (it is replayed first: order kept).
    if (this.queue.length > this.o.maxInMemory) {
      const head = this.inflight && this.queue[0] === this.inflight ? this.queue.shift()! : null
      this.spill(this.queue)
      this.queue = head ? [head] : []
    }
    this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      void this.flush()
    }, this.o.retryMs ?? 1000)
    this.timer.unref()
  }

  private async drain(): Promise<void> {
    let replayed = 0
    try {
      while ((this.queue.length || this.spilled) && !this.closed) {
        // The file holds the oldest records: replay it first, then memory.
        const lines = this.spilled ? this.readSpill() : []
        if (this.spilled && !lines.length) this.spilled = 0
        for (const line of lines) {
          const item = parseLine(line)
          if (item) await this.attempt(item)
          this.spilled--
          // Keep the file short as it drains, without rewriting it for every line.
          if (++replayed % 500 === 0) this.rewriteSpill()
        }
        // Before reading the file again (records may have been added behind), drop what was replayed.
        if (replayed) this.rewriteSpill()
        while (this.queue.length && !this.spilled && !this.closed) {
          const head = this.inflight = this.queue[0]!
          await this.attempt(head)
          this.inflight = null
          if (this.queue[0] === head) this.queue.shift()
        }
      }
    }
    catch {
      this.inflight = null
      this.schedule() // Redis did not answer: try again later, from the same record
    }
    finally {
      if (replayed) this.rewriteSpill()
    }
  }

  private async attempt(item: Item): Promise<void> {
    try {
      await this.write(item.e, item.retry)
    }
    catch (err) {
      if (this.o.isOutage(err)) {
        item.retry = true
        throw err
      }
      this.o.onDrop(item.e, err)
    }
  }

  private readSpill(): string[] {
    try {
      return readFileSync(this.o.spillFile, 'utf8').split('\n').filter(Boolean)
    }
    catch {
      return []
    }
  }

  /** Drop the replayed lines: keep the last `spilled` (synchronous, so no append interleaves). */
  private rewriteSpill(): void {
    const rest = this.spilled ? this.readSpill().slice(-this.spilled) : []
    if (!existsSync(this.o.spillFile) || !statSync(this.o.spillFile).size) return
    truncateSync(this.o.spillFile, 0)
    if (rest.length) appendFileSync(this.o.spillFile, rest.map(l => `${l}\n`).join(''), { mode: 0o600 })
  }

  private spill(items: Item[]): void {
    if (!items.length) return
    appendFileSync(this.o.spillFile, items.map(i => `${JSON.stringify({ retry: i.retry, e: i.e })}\n`).join(''), { mode: 0o600 })
    this.spilled += items.length
  }
}
