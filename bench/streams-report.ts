// The table and the target checks of `npm run bench:streams`.

export interface StreamRow {
  n: number
  /** `floor`: through the bare Node proxy (bench/floor.ts) instead of the relay. */
  via: 'direct' | 'floor' | 'relay'
  /** Which round of this N (direct, floor, relay: BENCH_STREAMS_ROUNDS) the row belongs to, from 1. */
  round: number
  started: number
  completed: number
  streamsPerSec: number
  ttfbP50: number
  ttfbP99: number
  /**
   * TTFB p50 of each wave: [0] the clients' first requests (started together; direct pays a TLS
   * handshake per client there), [1] their second ones (started as the first ones end), …
   */
  ttfbP50ByWave: number[]
  /** Whole stream, request sent → last byte. */
  durationP50: number
  /** Relay and floor rows: the proxy's own process (nobody's during the direct burst). */
  relayRssMaxMB: number | null
  relayCpuMsPerStream: number | null
  /** Streams the relay recorded in Redis during the burst (usage:total). */
  recorded: number | null
  errors: number
  errorSamples: string[]
  relayWarnLines: number
  /** From the relay's /connection-pools over the burst: connections opened, connect + request errors. */
  upstreamConnects: number | null
  upstreamErrors: number | null
  /** Most requests /health showed waiting for an upstream connection (polled every 500 ms). */
  queuedMax: number | null
  /** TCP connections the kernel dropped during the burst (full accept queue; machine-wide, /proc/net/netstat). */
  listenDrops: number
}

export interface StreamCheck {
  name: string
  measured: string
  value: number
  limit: number
  pass: boolean
  /** The issue sets this target at this N (the others are printed for comparison). */
  issueTarget: boolean
}

const f = (n: number | null, d = 0) => (n === null || !Number.isFinite(n) ? '–' : n.toFixed(d))
/** A difference in ms with its sign: +80 ms, -5 ms. */
const ms = (x: number) => `${x >= 0 ? '+' : ''}${f(x)} ms`

export function streamsTable(rows: StreamRow[], perClient: number): string {
  const head = ['N', 'round', 'target', 'completed/started', 'streams/s', 'TTFB p50', 'TTFB p99', 'TTFB p50 by wave', 'stream p50', 'relay RSS max MB', 'relay CPU-ms/stream', 'recorded', 'errors', 'up connects', 'up errors', 'queued max', 'listen drops', 'relay warn lines']
  const cells = rows.map(r => [
    String(r.n), String(r.round), r.via, `${r.completed}/${r.started}`, f(r.streamsPerSec), f(r.ttfbP50), f(r.ttfbP99), r.ttfbP50ByWave.map(x => f(x)).join(' / '), f(r.durationP50),
    f(r.relayRssMaxMB), f(r.relayCpuMsPerStream, 2), r.recorded === null ? '–' : String(r.recorded), String(r.errors), f(r.upstreamConnects), f(r.upstreamErrors), f(r.queuedMax), String(r.listenDrops), r.via === 'relay' ? String(r.relayWarnLines) : '–',
  ])
  const w = head.map((h, i) => Math.max(h.length, ...cells.map(c => c[i]!.length)))
  const line = (c: string[]) => c.map((x, i) => (i === 2 ? x.padEnd(w[i]!) : x.padStart(w[i]!))).join('  ')
  return [
    line(head),
    `(ms; N clients started at once, ${perClient} streams each back to back; TTFB = first body byte; by wave: the clients' first streams / second ones / …;\n streams/s = completed / (burst start → last stream done);\n relay RSS and CPU: the proxy's own process (the floor's on floor rows); up connects / up errors = the relay's upstream pool counters over the burst, queued max = most requests /health showed waiting for an upstream connection,\n listen drops = SYNs the kernel dropped on a full accept queue, machine-wide: each costs that client ≥ 1 s)`,
    ...cells.map(line),
  ].join('\n')
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A verdict over rounds: the median, and the range when there is more than one. */
const overRounds = (xs: number[], show: (x: number) => string) =>
  xs.length > 1 ? `${show(median(xs))} (median of ${xs.length}: ${show(Math.min(...xs))} … ${show(Math.max(...xs))})` : show(xs[0]!)

/**
 * The issue's targets: at N=1,000 first byte p50 ≤ direct + 100 ms and throughput ≥ 0.9× direct;
 * at N=2,000 all complete. Each relay row is compared with the direct row of its own round (run
 * just before it); over several rounds the verdict is the median of those per-round figures, since
 * one run on a shared machine can swing by a quarter either way.
 */
export function checkStreamTargets(rows: StreamRow[]): StreamCheck[] {
  const checks: StreamCheck[] = []
  for (const n of [...new Set(rows.map(r => r.n))]) {
    const pairs = rows.filter(r => r.n === n && r.via === 'relay')
      .map(r => ({ r, d: rows.find(x => x.via === 'direct' && x.n === n && x.round === r.round) }))
    const compared = pairs.filter((p): p is { r: StreamRow, d: StreamRow } => !!p.d)
    if (compared.length) {
      const extras = compared.map(p => p.r.ttfbP50 - p.d.ttfbP50)
      const extra = median(extras)
      checks.push({ name: `TTFB p50 relay − direct, N=${n} (≤ +100 ms)`, measured: overRounds(extras, ms), value: extra, limit: 100, pass: extra <= 100, issueTarget: n === 1000 })
      const ratios = compared.map(p => p.r.streamsPerSec / p.d.streamsPerSec)
      const ratio = median(ratios)
      checks.push({ name: `throughput relay / direct, N=${n} (≥ 0.9×)`, measured: overRounds(ratios, x => `${f(x, 2)}×`), value: ratio, limit: 0.9, pass: ratio >= 0.9, issueTarget: n === 1000 })
    }
    const started = pairs.reduce((a, p) => a + p.r.started, 0)
    const completed = pairs.reduce((a, p) => a + p.r.completed, 0)
    const rate = completed / Math.max(1, started)
    checks.push({ name: `relay streams completed, N=${n} (100 %)`, measured: `${completed}/${started}`, value: rate, limit: 1, pass: rate === 1 && started > 0, issueTarget: n === 2000 })
  }
  return checks
}

/**
 * The floor beside the relay, per N over the rounds: how much first byte a bare Node proxy adds
 * on this machine and its CPU per stream, and the relay's CPU per stream in floors.
 */
export function floorSummary(rows: StreamRow[]): string[] {
  const lines: string[] = []
  for (const n of [...new Set(rows.map(r => r.n))]) {
    const of = (via: StreamRow['via']) => rows.filter(r => r.n === n && r.via === via)
    const rounds = of('floor').map(fl => ({
      fl, d: of('direct').find(r => r.round === fl.round), r: of('relay').find(r => r.round === fl.round),
    })).filter((x): x is { fl: StreamRow, d: StreamRow, r: StreamRow } => !!x.d && !!x.r)
    if (!rounds.length) continue
    const cpu = (x: number) => f(x, 2)
    lines.push(`N=${n}, bare Node proxy (floor): TTFB p50 ${overRounds(rounds.map(x => x.fl.ttfbP50 - x.d.ttfbP50), ms)} over direct, `
      + `CPU-ms/stream ${overRounds(rounds.map(x => x.fl.relayCpuMsPerStream!), cpu)}; the relay: TTFB p50 ${overRounds(rounds.map(x => x.r.ttfbP50 - x.d.ttfbP50), ms)} over direct, `
      + `${overRounds(rounds.map(x => x.r.relayCpuMsPerStream! / x.fl.relayCpuMsPerStream!), x => `${f(x, 1)}×`)} the floor's CPU per stream`)
  }
  return lines
}
