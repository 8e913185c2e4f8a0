/** The table, the JSON file and the SVG chart of a benchmark run. */
import type { Result } from "./benchmarks.js"
import { chartsDocument } from "./chart.js"

export interface Report {
  readonly node: string
  readonly effect: string
  readonly cpus: number
  readonly cpuModel: string
  readonly date: string
  readonly quick: boolean
  readonly results: ReadonlyArray<Result>
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toPrecision(3))

export const table = (report: Report): string => {
  const lines = [
    `node ${report.node}, effect ${report.effect}, ${report.cpus} cpus (${report.cpuModel})`,
    "",
    "| name | value | baselines | ratio to each baseline |",
    "| --- | ---: | --- | --- |"
  ]
  for (const r of report.results) {
    const baselines = Object.entries(r.baselines).map(([k, v]) => `${k} ${fmt(v)} ${r.unit}`).join(", ") || "—"
    const ratios = Object.entries(r.ratios).map(([k, v]) => `${fmt(v)}× ${k}`).join(", ") || "—"
    lines.push(`| ${r.name} | ${fmt(r.value)} ${r.unit} | ${baselines} | ${ratios} |`)
  }
  return lines.join("\n")
}

/** The charts, one per dimension (time, memory), stacked in one SVG document: see `chart.ts`. */
export const svg = (report: Report): string => chartsDocument(report)
