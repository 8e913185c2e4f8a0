/**
 * Load statistics: latency percentiles, throughput, and the table loadgen prints.
 */

/**
 * The nearest-rank percentile of samples sorted in ascending order: the
 * smallest sample such that at least `p` percent of the samples are less or
 * equal. `NaN` when there are no samples.
 *
 * **Gotchas**: `sorted` must already be sorted ascending; `p` is in (0, 100].
 */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number => {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile must be in (0, 100], got ${p}`)
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/**
 * What one load run measured.
 */
export interface Summary {
  /** Requests that ended with a finished job. */
  readonly ok: number
  /** Requests that ended any other way (an HTTP error, a bad body, a transport failure). */
  readonly failed: number
  /** 503 answers (pool full) received and retried. */
  readonly rejected: number
  readonly elapsedMs: number
  /** Successful requests per second of wall time. */
  readonly throughput: number
  /** Latencies of successful requests, in milliseconds, from the first attempt to the answer. */
  readonly latency: {
    readonly p50: number
    readonly p95: number
    readonly p99: number
    readonly mean: number
    readonly max: number
  }
}

/**
 * Summarises a run from its latencies (successful requests only) and counters.
 */
export const summarize = (options: {
  readonly latenciesMs: ReadonlyArray<number>
  readonly failed: number
  readonly rejected: number
  readonly elapsedMs: number
}): Summary => {
  const sorted = Array.from(options.latenciesMs).sort((a, b) => a - b)
  const ok = sorted.length
  let total = 0
  for (const latency of sorted) total += latency
  return {
    ok,
    failed: options.failed,
    rejected: options.rejected,
    elapsedMs: options.elapsedMs,
    throughput: options.elapsedMs > 0 ? (ok * 1000) / options.elapsedMs : Number.NaN,
    latency: {
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      p99: percentile(sorted, 99),
      mean: ok === 0 ? Number.NaN : total / ok,
      max: ok === 0 ? Number.NaN : sorted[ok - 1]!
    }
  }
}

const columns = ["ok", "failed", "503s", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"] as const

const number = (n: number, digits: number): string => Number.isFinite(n) ? n.toFixed(digits) : "-"

const cells = (summary: Summary): Array<string> => [
  String(summary.ok),
  String(summary.failed),
  String(summary.rejected),
  number(summary.throughput, 1),
  number(summary.latency.p50, 2),
  number(summary.latency.p95, 2),
  number(summary.latency.p99, 2),
  number(summary.latency.max, 2)
]

/**
 * Renders labelled summaries as an aligned text table, one row each.
 */
export const table = (rows: ReadonlyArray<readonly [label: string, summary: Summary]>): string => {
  const lines: Array<Array<string>> = [["", ...columns], ...rows.map(([label, summary]) => [label, ...cells(summary)])]
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((line) => line[i]!.length)))
  return lines
    .map((line) => line.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join("  "))
    .join("\n")
}

/**
 * The ratios `a / b` that tell two runs apart: throughput, and each latency percentile.
 */
export const ratios = (a: Summary, b: Summary) => ({
  throughput: a.throughput / b.throughput,
  p50: a.latency.p50 / b.latency.p50,
  p95: a.latency.p95 / b.latency.p95,
  p99: a.latency.p99 / b.latency.p99
})

/**
 * One line stating {@link ratios}, e.g. `threads / inline: throughput 2.91×, p50 0.34×, p95 0.41×, p99 0.52×`.
 */
export const ratioLine = (labelA: string, a: Summary, labelB: string, b: Summary): string => {
  const r = ratios(a, b)
  const x = (n: number) => Number.isFinite(n) ? `${n.toFixed(2)}×` : "-"
  return `${labelA} / ${labelB}: throughput ${x(r.throughput)}, p50 ${x(r.p50)}, p95 ${x(r.p95)}, p99 ${x(r.p99)}`
}

/**
 * A one-line progress bar: `[#######.............]  35%  700/2000  1234 req/s`.
 */
export const progressBar = (options: {
  readonly done: number
  readonly total: number
  readonly elapsedMs: number
  readonly width?: number | undefined
  readonly label?: string | undefined
}): string => {
  const width = options.width ?? 30
  const fraction = options.total === 0 ? 1 : Math.min(1, options.done / options.total)
  const filled = Math.round(fraction * width)
  const rate = options.elapsedMs > 0 ? (options.done * 1000) / options.elapsedMs : 0
  const label = options.label === undefined ? "" : `${options.label} `
  return `${label}[${"#".repeat(filled)}${".".repeat(width - filled)}] ${
    String(Math.floor(fraction * 100)).padStart(3)
  }%  ${options.done}/${options.total}  ${rate.toFixed(0)} req/s`
}
