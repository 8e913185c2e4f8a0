/**
 * The Benchmarks page's data, from the text of `bench/results/latest.json`: the machine, the results table (figures
 * in the unit that reads best), the charts (drawn by the bench's own chart module) and what the figures mean for a
 * user. Plain functions, used by `benchmarks.data.ts` at build time and tested in `test/site.test.ts`.
 */
import { type Chart, type ChartEntry, charts, formatRatio, formatValue, subjectOf } from "../../bench/src/chart.js"

/** A row of the results table, its figures formatted in the unit that reads best. */
export interface BenchRow {
  readonly name: string
  /** What the entry measures when it is not async-job (`"node:crypto"`), as `pnpm bench` names it. */
  readonly subject: string | undefined
  readonly value: string
  readonly baselines: ReadonlyArray<{ readonly name: string; readonly value: string; readonly ratio: string }>
  /** The entry's other figures (`detail` in `latest.json`: requests per second, p99…), as `name: value`. */
  readonly detail: ReadonlyArray<string>
}

/**
 * A target the project set itself, against the figure of the run: `ratio` targets compare an entry with one of
 * its baselines (entry ÷ baseline ≤ `limit`), `value` targets the entry's own figure (in its unit).
 */
export interface Target {
  readonly entry: string
  readonly baseline?: string | undefined
  readonly limit: number
  /** The limit as the target states it, when its unit is not the entry's. */
  readonly text?: string | undefined
  /** Where the target was set. */
  readonly source: string
}

/** A target with the run's figure: `measured` is `null` when the run has no such entry or baseline. */
export interface TargetRow {
  readonly entry: string
  readonly against: string
  readonly target: string
  readonly measured: string | null
  readonly met: boolean | null
  readonly source: string
}

/**
 * The targets the figures are held to. A ratio is the entry's figure ÷ the baseline's (below 1: faster or
 * smaller); the service's targets are per request against the peer service, so ≤ 1.25× is ≥ 0.8× its throughput.
 */
export const targets: ReadonlyArray<Target> = [
  { entry: "job-cycle", baseline: "effect-fork-deferred", limit: 1, source: "engine" },
  { entry: "job-cycle", baseline: "effect3-fork-deferred", limit: 0.3, source: "engine" },
  { entry: "job-cycle-allocation", baseline: "effect-fork-deferred", limit: 1, source: "engine" },
  { entry: "job-cycle-allocation", baseline: "effect3-fork-deferred", limit: 0.2, source: "engine" },
  { entry: "paused-job-heap", limit: 1638.4, text: "≤ 1.6 KiB (1,638 bytes)", source: "engine" },
  { entry: "paused-job-heap", baseline: "effect-fiber-heap", limit: 1.3, source: "engine" },
  { entry: "paused-job-heap", baseline: "effect3-fiber-heap", limit: 0.35, source: "engine" },
  { entry: "facade-cycle", baseline: "job-cycle", limit: 1.2, source: "engine" },
  { entry: "pool-init-10k", baseline: "effect-pool-10k", limit: 0.1, source: "engine" },
  { entry: "crypto-pool", baseline: "hand-made-pool", limit: 1.1, source: "service (to ship)" },
  { entry: "service-sha256", baseline: "fastify-piscina", limit: 1.25, source: "service" },
  { entry: "service-ecdsa-p256-sign", baseline: "fastify-piscina", limit: 1.25, source: "service" },
  { entry: "service-rsa2048-sign", baseline: "fastify-piscina", limit: 1.05, source: "service" },
  { entry: "service-scrypt", baseline: "fastify-piscina", limit: 1.05, source: "service" },
  { entry: "service-startup", baseline: "fastify-piscina", limit: 1.5, source: "service" },
  { entry: "service-startup", limit: 1000, source: "service" },
  { entry: "service-rss", baseline: "fastify-piscina", limit: 1.5, source: "service" },
  { entry: "durable-cycle-sqlite", baseline: "sqlite-insert-select", limit: 20, source: "durable" },
  { entry: "durable-cycle-postgres", baseline: "pg-insert-select", limit: 15, source: "durable" }
]

/** Each target with the run's figure, and whether it was met. */
export const targetRows = (results: ReadonlyArray<ChartEntry>): Array<TargetRow> =>
  targets.map((t): TargetRow => {
    const entry = results.find((r) => r.name === t.entry)
    if (t.baseline === undefined) {
      const unit = entry?.unit ?? (t.entry === "service-startup" ? "ms" : "bytes")
      const measured = entry !== undefined && Number.isFinite(entry.value) ? entry.value : undefined
      return {
        entry: t.entry,
        against: "its own figure",
        target: t.text ?? `≤ ${format(t.limit, unit)}`,
        measured: measured === undefined ? null : format(measured, unit),
        met: measured === undefined ? null : measured <= t.limit,
        source: t.source
      }
    }
    const base = entry?.baselines[t.baseline]
    const ratio = entry === undefined
      ? undefined
      : entry.ratios[t.baseline] ?? (base !== undefined && base > 0 ? entry.value / base : undefined)
    return {
      entry: t.entry,
      against: t.baseline,
      target: `≤ ${formatRatio(t.limit)}×`,
      measured: ratio === undefined ? null : `${formatRatio(ratio)}×`,
      met: ratio === undefined ? null : ratio <= t.limit,
      source: t.source
    }
  })

/** What the figures mean for a user: the job cycle in jobs per second, against what a signature costs. */
export interface BenchMeaning {
  /** `job-cycle`'s time, formatted. */
  readonly jobCycle: string
  /** Job cycles per second on one core doing nothing else, rounded to two significant digits. */
  readonly jobsPerSecond: string
  /** The signatures measured in the same run, each with what a job cycle costs next to it ("2.5% of it"). */
  readonly signatures: ReadonlyArray<{ readonly name: string; readonly time: string; readonly jobShare: string }>
}

export interface BenchData {
  /**
   * Where the results came from: Node version, effect version (and effect 3's, for the `effect3-` baselines), CPUs,
   * the load average before and after the run (as recorded by `pnpm bench`).
   */
  readonly machine: ReadonlyArray<{ readonly label: string; readonly value: string }>
  readonly rows: ReadonlyArray<BenchRow>
  /** One chart per dimension (time, memory), as SVG markup. */
  readonly charts: ReadonlyArray<Chart>
  readonly meaning: BenchMeaning | null
  /** The project's targets against this run's figures. */
  readonly targets: ReadonlyArray<TargetRow>
  /** Why the JSON could not be used, or null. */
  readonly error: string | null
  readonly found: boolean
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const numbers = (u: unknown): Record<string, number> =>
  isRecord(u)
    ? Object.fromEntries(Object.entries(u).filter((e): e is [string, number] => typeof e[1] === "number"))
    : {}

const timeFactors: Readonly<Record<string, number>> = { ns: 1, "µs": 1e3, us: 1e3, ms: 1e6, s: 1e9 }
const memoryFactors: Readonly<Record<string, number>> = { bytes: 1, B: 1, KB: 1e3, kB: 1e3, MB: 1e6 }

/** A value in its unit, formatted in the unit that reads best (30102 ns → 30.1 µs). */
const format = (value: number, unit: string): string =>
  !Number.isFinite(value)
    ? "–"
    : timeFactors[unit] !== undefined
    ? formatValue("time", value * timeFactors[unit])
    : memoryFactors[unit] !== undefined
    ? formatValue("memory", value * memoryFactors[unit])
    : formatValue(unit, value)

const nanoseconds = (entry: ChartEntry | undefined): number | undefined => {
  const factor = entry === undefined ? undefined : timeFactors[entry.unit]
  return entry === undefined || factor === undefined || !(entry.value > 0) ? undefined : entry.value * factor
}

const signatureNames: ReadonlyArray<readonly [string, string]> = [
  ["rsa2048-sign", "an RSA-2048 signature"],
  ["ecdsa-p256-sign", "an ECDSA P-256 signature"]
]

/** Two significant digits, with thousands separators: 33,000. */
const roughly = (n: number): string => Number(n.toPrecision(2)).toLocaleString("en-US")

export const meaningOf = (results: ReadonlyArray<ChartEntry>): BenchMeaning | null => {
  const cycle = nanoseconds(results.find((r) => r.name === "job-cycle"))
  if (cycle === undefined) return null
  const signatures = signatureNames.flatMap(([name, label]) => {
    const ns = nanoseconds(results.find((r) => r.name === name))
    if (ns === undefined) return []
    const share = cycle / ns
    const jobShare = share < 1
      ? `${Number((share * 100).toPrecision(2))}% of it`
      : `${formatRatio(share)} times as much`
    return [{ name: label, time: formatValue("time", ns), jobShare }]
  })
  return {
    jobCycle: formatValue("time", cycle),
    jobsPerSecond: roughly(1e9 / cycle),
    signatures
  }
}

/** The machine table's rows: `latest.json`'s keys, and their labels. */
const machineKeys: ReadonlyArray<readonly [string, string]> = [
  ["node", "node"],
  ["effect", "effect"],
  ["effect3", "effect 3 (the effect3- baselines)"],
  ["cpus", "cpus"],
  ["cpuModel", "cpuModel"],
  ["loadAverage", "load average (before → after)"],
  ["date", "date"]
]

const machineValue = (key: string, value: unknown): string => {
  if (typeof value === "string") return value
  if (key === "loadAverage" && isRecord(value) && typeof value.before === "number" && typeof value.after === "number") {
    return `${value.before.toFixed(1)} → ${value.after.toFixed(1)}`
  }
  return JSON.stringify(value)
}

/** Reads `latest.json`'s text into the page's data. */
export const parse = (text: string): Omit<BenchData, "error" | "found"> => {
  const json: unknown = JSON.parse(text)
  if (!isRecord(json) || !Array.isArray(json.results)) throw new Error("latest.json has no results array")
  const machine = machineKeys
    .filter(([key]) => json[key] !== undefined)
    .map(([key, label]) => ({ label, value: machineValue(key, json[key]) }))
  const results = json.results.filter(isRecord).map((r): ChartEntry => ({
    name: String(r.name),
    unit: String(r.unit ?? ""),
    value: typeof r.value === "number" ? r.value : Number.NaN,
    baselines: numbers(r.baselines),
    ratios: numbers(r.ratios),
    subject: typeof r.subject === "string" ? r.subject : undefined
  }))
  const details = new Map(
    json.results.filter(isRecord).map((r) => [String(r.name), isRecord(r.detail) ? r.detail : {}] as const)
  )
  const rows = results.map((r): BenchRow => ({
    name: r.name,
    subject: subjectOf(r),
    value: format(r.value, r.unit),
    baselines: Object.entries(r.baselines).map(([name, value]) => ({
      name,
      value: format(value, r.unit),
      ratio: r.ratios[name] === undefined ? "–" : `${formatRatio(r.ratios[name])}×`
    })),
    detail: Object.entries(details.get(r.name) ?? {}).map(([name, value]) =>
      `${name}: ${typeof value === "number" ? Number(value.toPrecision(4)).toLocaleString("en-US") : String(value)}`
    )
  }))
  return {
    machine,
    rows,
    charts: charts({
      node: typeof json.node === "string" ? json.node : undefined,
      effect: typeof json.effect === "string" ? json.effect : undefined,
      cpus: typeof json.cpus === "number" ? json.cpus : undefined,
      results
    }),
    meaning: meaningOf(results),
    targets: targetRows(results)
  }
}
