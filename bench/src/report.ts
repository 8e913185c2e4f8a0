/** The table, the JSON file and the SVG chart of a benchmark run. */
import type { Result } from "./benchmarks.js"

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

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A horizontal bar chart: for each entry with baselines, the value and every baseline, on a log scale. */
export const svg = (report: Report): string => {
  const bars: Array<{ label: string; name: string; value: number; unit: string; ours: boolean }> = []
  for (const r of report.results) {
    bars.push({ label: r.name, name: "async-job", value: r.value, unit: r.unit, ours: true })
    for (const [name, value] of Object.entries(r.baselines)) {
      bars.push({ label: r.name, name, value, unit: r.unit, ours: false })
    }
  }
  const rowHeight = 22
  const left = 330
  const width = 900
  const top = 40
  const height = top + bars.length * rowHeight + 30
  const max = Math.max(...bars.map((b) => Math.log10(b.value + 1)))
  const rows = bars.map((b, i) => {
    const y = top + i * rowHeight
    const w = Math.max(2, ((width - left - 140) * Math.log10(b.value + 1)) / max)
    return [
      `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${escape(`${b.label} · ${b.name}`)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" fill="${
        b.ours ? "#3b82f6" : "#9ca3af"
      }"/>`,
      `<text x="${left + w + 6}" y="${y + 15}" font-size="12">${escape(`${fmt(b.value)} ${b.unit}`)}</text>`
    ].join("")
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="14" font-weight="bold">${
      escape(
        `async-job benchmarks (blue) against baselines (grey), log scale — node ${report.node}, effect ${report.effect}, ${report.cpus} cpus`
      )
    }</text>`,
    ...rows,
    `</svg>`
  ].join("\n")
}
