/** The table, the JSON file and the SVG chart of a benchmark run. */
import type { Result, Settings } from "./benchmarks.js"
import { chartsDocument } from "./chart.js"

export interface Report {
  readonly node: string
  /** the effect the engine runs on */
  readonly effect: string
  /** the effect 3 release measured for the `effect3-*` baselines */
  readonly effect3: string
  readonly cpus: number
  readonly cpuModel: string
  readonly date: string
  readonly quick: boolean
  /** the one-minute load average when the run began and when it ended */
  readonly loadAverage: { readonly before: number; readonly after: number }
  /** how much was measured: iterations, rounds, the heap profiler's sampling interval */
  readonly settings: Settings
  readonly results: ReadonlyArray<Result>
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(3))

export const table = (report: Report): string => {
  const lines = [
    `node ${report.node}, effect ${report.effect} (baselines also on effect ${report.effect3}), ${report.cpus} cpus (${report.cpuModel}), load average ${
      report.loadAverage.before.toFixed(1)
    } → ${report.loadAverage.after.toFixed(1)}${report.quick ? ", --quick (figures not to be quoted)" : ""}`,
    "",
    "| name | value | baselines | ratio to each baseline | CPU time: value, ratio to each baseline |",
    "| --- | ---: | --- | --- | --- |"
  ]
  for (const r of report.results) {
    const baselines = Object.entries(r.baselines).map(([k, v]) => `${k} ${fmt(v)} ${r.unit}`).join(", ") || "—"
    const ratios = Object.entries(r.ratios).map(([k, v]) => `${fmt(v)}× ${k}`).join(", ") || "—"
    const subject = r.subject === undefined ? "" : ` (${r.subject})`
    const cpu = r.cpu === undefined
      ? "—"
      : [`${fmt(r.cpu.value)} ${r.unit}`, ...Object.entries(r.cpu.ratios).map(([k, v]) => `${fmt(v)}× ${k}`)].join(", ")
    lines.push(`| ${r.name}${subject} | ${fmt(r.value)} ${r.unit} | ${baselines} | ${ratios} | ${cpu} |`)
  }
  const details = report.results.filter((r) => r.detail !== undefined)
  if (details.length > 0) lines.push("")
  for (const r of details) {
    lines.push(`- ${r.name}: ${Object.entries(r.detail!).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")}`)
  }
  return lines.join("\n")
}

/** The charts, one per dimension (time, memory), stacked in one SVG document: see `chart.ts`. */
export const svg = (report: Report): string => chartsDocument(report)
