/** Where a command writes: stdout for results, stderr for warnings and errors. */
export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean }
  stderr: NodeJS.WritableStream & { isTTY?: boolean }
}

const CODES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const
export type Color = keyof typeof CODES

/**
 * Human or machine output. In JSON mode results are one JSON document on stdout and nothing is
 * coloured; in text mode colour is used only on a terminal and without NO_COLOR.
 */
export class Output {
  readonly color: boolean

  constructor(readonly streams: Streams, readonly json: boolean, env: NodeJS.ProcessEnv = process.env) {
    this.color = !json && !!streams.stdout.isTTY && !env.NO_COLOR
  }

  paint(color: Color, text: string): string {
    return this.color ? `\x1B[${CODES[color]}m${text}\x1B[0m` : text
  }

  line(text = ''): void {
    this.streams.stdout.write(`${text}\n`)
  }

  /** The command's result: JSON in JSON mode, else `text()` lines. */
  result(value: unknown, text: () => string | string[]): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
    else {
      const t = text()
      for (const l of Array.isArray(t) ? t : [t]) this.line(l)
    }
  }

  warn(text: string): void {
    this.streams.stderr.write(this.json ? `${JSON.stringify({ warning: text })}\n` : `warning: ${text}\n`)
  }

  error(text: string): void {
    this.streams.stderr.write(this.json ? `${JSON.stringify({ error: text })}\n` : `error: ${text}\n`)
  }
}

/** Rows as aligned columns under a header (cells are plain text; width counts characters). */
export function table(headers: string[], rows: string[][]): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const fmt = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()
  return [fmt(headers), ...rows.map(fmt)]
}

/** "key: value" lines with aligned values. */
export function fields(pairs: [string, string][]): string[] {
  const w = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(w + 2)}${v}`)
}

/** Micro-USD as "$1.2345". */
export const usd = (micros: number) => `$${(micros / 1e6).toFixed(4)}`

/** "1 API key", "3 API keys". */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`
