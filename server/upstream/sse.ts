/** The longest SSE line a reader keeps (1 MiB): longer lines are skipped, so memory stays bounded. */
const MAX_SSE_LINE = 1024 * 1024

/**
 * Splits an SSE byte stream into events' `data` payloads, however the bytes are split (LF or CRLF).
 * Linear in the bytes: a line's pieces are kept as they arrive and joined once, when it ends, so a
 * huge line costs no more than its bytes. A line (or an event's data) over `maxLine` bytes is not
 * kept: its event is dropped and `onOversize` is told — an upstream cannot make the relay hold or
 * parse more than that per event. Lines are decoded once complete, so UTF-8 is never split.
 */
export class SseReader {
  /** Events dropped because a line or their data was over the cap. */
  oversized = 0
  private parts: Buffer[] = []
  private partBytes = 0
  private skipping = false
  private data: string[] = []
  private dataBytes = 0
  private broken = false

  constructor(
    private readonly onData: (payload: string) => void,
    private readonly maxLine = MAX_SSE_LINE,
    private readonly onOversize: () => void = () => {},
  ) {}

  /** Bytes held for the line in progress (never more than the cap). */
  get buffered(): number {
    return this.partBytes
  }

  push(chunk: Buffer): void {
    let start = 0
    let nl = chunk.indexOf(10, start)
    while (nl !== -1) {
      this.keep(chunk.subarray(start, nl))
      this.endLine()
      start = nl + 1
      nl = chunk.indexOf(10, start)
    }
    if (start < chunk.length) this.keep(chunk.subarray(start))
  }

  /** The stream ended (or was cut off): a last line without its newline still counts. */
  end(): void {
    if (this.partBytes || this.skipping) this.endLine()
    this.dispatch()
  }

  private keep(piece: Buffer): void {
    if (this.skipping || !piece.length) return
    if (this.partBytes + piece.length > this.maxLine) {
      this.skipping = true
      this.parts = []
      this.partBytes = 0
      return
    }
    this.parts.push(piece)
    this.partBytes += piece.length
  }

  private endLine(): void {
    if (this.skipping) {
      // Part of this event is gone: the event cannot be read (or passed on) as it was.
      this.skipping = false
      this.broken = true
      return
    }
    const bytes = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.partBytes)
    this.parts = []
    this.partBytes = 0
    const end = bytes.length && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length
    if (end === 0) return this.dispatch()
    // Only `data:` lines matter to the relay; comments and other fields are skipped undecoded.
    if (end < 5 || bytes.toString('latin1', 0, 5) !== 'data:') return
    const from = bytes[5] === 32 ? 6 : 5
    this.dataBytes += end - from
    if (this.dataBytes > this.maxLine) this.broken = true
    else this.data.push(bytes.toString('utf8', from, end))
  }

  private dispatch(): void {
    const { data, broken } = this
    this.data = []
    this.dataBytes = 0
    this.broken = false
    if (broken) {
      this.oversized++
      this.onOversize()
      return
    }
    if (data.length) this.onData(data.length === 1 ? data[0]! : data.join('\n'))
  }
}
