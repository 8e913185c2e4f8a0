/**
 * The Benchmarks page's data, from the text of `bench/results/latest.json`: the machine, the results table (figures
 * in the unit that reads best), the charts (drawn by the bench's own chart module) and what the figures mean for a
 * user. Plain functions, used by `benchmarks.data.ts` at build time and tested in `test/site.test.ts`.
 */
import { type Chart, type ChartEntry, charts, formatRatio, formatValue } from "../../bench/src/chart.js"

/** A row of the results table, its figures formatted in the unit that reads best. */
export interface BenchRow {
  readonly name: string
  /** What the entry measures when it is not async-job (`"node:crypto"`), as `pnpm bench` names it. */
  readonly subject: string | undefined
  readonly value: string
  readonly baselines: ReadonlyArray<{ readonly name: string; readonly value: string; readonly ratio: string }>
}

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
  const rows = results.map((r): BenchRow => ({
    name: r.name,
    subject: r.subject,
    value: format(r.value, r.unit),
    baselines: Object.entries(r.baselines).map(([name, value]) => ({
      name,
      value: format(value, r.unit),
      ratio: r.ratios[name] === undefined ? "–" : `${formatRatio(r.ratios[name])}×`
    }))
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
    meaning: meaningOf(results)
  }
}
