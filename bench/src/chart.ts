/**
 * The charts of a benchmark run, as SVG: one chart per dimension (time, memory; any other unit gets a chart of its
 * own), each with a title, a legend, an axis with its unit, and on every baseline's bar the ratio of the entry to
 * that baseline.
 *
 * Shared by `pnpm bench` (which writes `latest.svg`) and the docs site (which draws the charts from `latest.json`
 * at build time, so that they follow every new run). No dependency: plain strings in, SVG out.
 *
 * Colours are CSS custom properties: inside the docs site they take the VitePress theme's (`--vp-c-*`, light or
 * dark with the site's `.dark` class); standalone, their fallbacks follow `prefers-color-scheme`.
 */

/** One entry of `latest.json`. */
export interface ChartEntry {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baselines: Readonly<Record<string, number>>
  readonly ratios: Readonly<Record<string, number>>
  /**
   * What `value` measures when it is not async-job's engine (e.g. `"node:crypto"`): its bar is labelled with it
   * and drawn apart from async-job's. Absent: async-job.
   */
  readonly subject?: string | undefined
}

/** The part of `latest.json` the charts read. */
export interface ChartReport {
  readonly node?: string | undefined
  readonly effect?: string | undefined
  readonly cpus?: number | undefined
  readonly results: ReadonlyArray<ChartEntry>
}

/** A chart of one dimension. */
export interface Chart {
  /** `"time"`, `"memory"`, or the unit itself for any other. */
  readonly dimension: string
  readonly title: string
  /** The SVG markup, a complete `<svg>` element. */
  readonly svg: string
}

/** A chart's width in user units: under the docs content's 624 px at a 1280 px window, so text keeps its size. */
export const chartWidth = 620
/** The smallest font size used, in user units. */
export const minFontSize = 12

const timeUnits: Readonly<Record<string, number>> = { ns: 1, "µs": 1e3, us: 1e3, ms: 1e6, s: 1e9 }
const memoryUnits: Readonly<Record<string, number>> = { bytes: 1, B: 1, KB: 1e3, kB: 1e3, MB: 1e6, GB: 1e9 }

/** The dimension of a unit and the factor to its base (ns, bytes). */
const dimensionOf = (unit: string): { readonly dimension: string; readonly factor: number } => {
  if (timeUnits[unit] !== undefined) return { dimension: "time", factor: timeUnits[unit] }
  if (memoryUnits[unit] !== undefined) return { dimension: "memory", factor: memoryUnits[unit] }
  return { dimension: unit, factor: 1 }
}

/** Three significant digits, no trailing zeros: 0.854, 1.32, 29.3, 158, 0.00077. */
export const formatRatio = (ratio: number): string =>
  ratio >= 1000 ? ratio.toFixed(0) : String(Number(ratio.toPrecision(3)))

const sig3 = (n: number): string => (n >= 100 ? n.toFixed(0) : String(Number(n.toPrecision(3))))

/** A value in the dimension's base unit, with the unit that reads best: 190 ns, 30.1 µs, 1.31 s, 5.51 KB. */
export const formatValue = (dimension: string, base: number): string => {
  if (base === 0) return "0"
  const steps: ReadonlyArray<readonly [number, string]> = dimension === "time"
    ? [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]]
    : dimension === "memory"
    ? [[1e9, "GB"], [1e6, "MB"], [1e3, "KB"], [1, "bytes"]]
    : [[1, dimension]]
  const [factor, unit] = steps.find(([f]) => Math.abs(base) >= f) ?? steps[steps.length - 1]!
  return `${sig3(base / factor)} ${unit}`
}

const escape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** A rough width of a text in user units (sans-serif, digits and lowercase): enough to lay out, never to clip. */
const textWidth = (text: string, size: number): number => text.length * size * 0.6

/** The styles of a chart, scoped to its class (an inline SVG's `<style>` applies to the whole page). */
const style = [
  ".ajb-chart{--ink:var(--vp-c-text-1,#3c3c43);--muted:var(--vp-c-text-2,#67676c);--ours:var(--vp-c-brand-1,#3451b2);",
  "--base:var(--vp-c-text-3,#929295);--grid:var(--vp-c-divider,#e2e2e3);--bg:var(--vp-c-bg,#ffffff)}",
  "@media (prefers-color-scheme:dark){.ajb-chart{--ink:var(--vp-c-text-1,#dfdfd6);--muted:var(--vp-c-text-2,#98989f);",
  "--ours:var(--vp-c-brand-1,#a8b1ff);--base:var(--vp-c-text-3,#6a6a71);--grid:var(--vp-c-divider,#2e2e32);",
  "--bg:var(--vp-c-bg,#1b1b1f)}}",
  ".ajb-chart .bg{fill:var(--bg)}.ajb-chart text{fill:var(--ink)}.ajb-chart .muted{fill:var(--muted)}",
  ".ajb-chart .ours{fill:var(--ours)}.ajb-chart .base{fill:var(--base)}.ajb-chart .other{fill:var(--muted)}.ajb-chart .grid{stroke:var(--grid)}",
  ".ajb-chart .axis{stroke:var(--muted)}.ajb-chart .group{font-weight:600}.ajb-chart .ratio{font-weight:600}"
].join("")

interface Bar {
  readonly label: string
  readonly value: number
  /** `ours`: async-job's figure; `other`: an entry's figure that is not async-job's (see `ChartEntry.subject`) */
  readonly kind: "ours" | "base" | "other"
  readonly ratio: number | undefined
}

interface Group {
  readonly name: string
  readonly bars: ReadonlyArray<Bar>
}

interface Scale {
  readonly x: (value: number) => number
  readonly ticks: ReadonlyArray<number>
  readonly log: boolean
}

/** A log scale (decades) when the values span more than 20×, else a linear one from 0 with round steps. */
const scaleFor = (values: ReadonlyArray<number>, width: number): Scale => {
  const positive = values.filter((v) => v > 0)
  const min = Math.min(...positive)
  const max = Math.max(...positive)
  if (max / min > 20) {
    const lo = Math.floor(Math.log10(min))
    const hi = Math.max(lo + 1, Math.ceil(Math.log10(max)))
    const ticks = Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i))
    return {
      x: (v) => (width * (Math.log10(Math.max(v, 10 ** lo)) - lo)) / (hi - lo),
      ticks,
      log: true
    }
  }
  const rough = max / 5
  const magnitude = 10 ** Math.floor(Math.log10(rough))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude
  const top = Math.ceil(max / step) * step
  const ticks = Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step)
  return { x: (v) => (width * v) / top, ticks, log: false }
}

const titles: Readonly<Record<string, string>> = {
  time: "Time",
  memory: "Memory",
  "jobs/s": "Throughput (jobs per second)"
}

/**
 * What an entry's figure counts, for the line under a chart's title: a chart of one dimension mixes figures
 * that count different things (bytes allocated per cycle beside bytes held per paused job).
 */
const measures = (name: string, dimension: string): string => {
  if (name === "job-cycle-allocation") return "allocated per job cycle"
  if (name === "paused-job-heap") return "held per paused job"
  if (name === "service-rss") return "the service's peak resident set"
  if (name === "service-startup") return "to start a service"
  if (name.startsWith("service-")) return "per HTTP request"
  if (name.startsWith("durable-throughput")) return "durable jobs started and finished per second"
  return dimension === "time" ? "per operation" : dimension === "memory" ? "per operation" : dimension
}

/**
 * Entries that are not async-job's engine, named even when `latest.json` predates `subject`: plain node:crypto
 * for scale, and the engine the offload service does not ship.
 */
const knownSubjects: Readonly<Record<string, string>> = {
  "rsa2048-sign": "node:crypto",
  "ecdsa-p256-sign": "node:crypto",
  "crypto-pool": "effect/rpc worker pool (not shipped)"
}

/** What an entry measures when it is not async-job's engine (`ChartEntry.subject`, or known by its name). */
export const subjectOf = (entry: Pick<ChartEntry, "name" | "subject">): string | undefined =>
  entry.subject ?? knownSubjects[entry.name]

/** The label of an entry's own bar when it is async-job's: the offload service's entries measure the service. */
const oursLabel = (name: string): string => name.startsWith("service-") ? "offload service" : "async-job"

/** Whether a larger figure is the better one (a rate), so that a ratio above 1 is the good side. */
const higherIsBetter = (dimension: string): boolean => dimension.endsWith("/s")

const chartFor = (
  dimension: string,
  groups: ReadonlyArray<Group>,
  report: ChartReport
): Chart => {
  const id = `ajb-chart-${dimension.replace(/[^\w-]/g, "_")}`
  const font = minFontSize
  const values = groups.flatMap((g) => g.bars.map((b) => b.value))
  const better = dimension === "time"
    ? "below 1: the first is faster"
    : higherIsBetter(dimension)
    ? "above 1: the first does more"
    : "below 1: the first is smaller"
  const labelWidth = Math.max(...groups.flatMap((g) => g.bars.map((b) => textWidth(b.label, font)))) + 16
  const valueTexts = groups.flatMap((g) =>
    g.bars.map((b) => `${formatValue(dimension, b.value)}${b.ratio === undefined ? "" : `  ${formatRatio(b.ratio)}×`}`)
  )
  const valueWidth = Math.max(...valueTexts.map((t) => textWidth(t, font))) + 12
  const barLeft = Math.ceil(labelWidth)
  const barWidth = Math.floor(chartWidth - barLeft - valueWidth)
  const scale = scaleFor(values, barWidth)

  const title = `${titles[dimension] ?? dimension}${scale.log ? " (log scale)" : ""}`
  const counted = [...new Set(groups.map((g) => measures(g.name, dimension)))].join(" · ")
  const machine = [
    report.node !== undefined ? `Node ${report.node}` : undefined,
    report.effect !== undefined ? `effect ${report.effect}` : undefined,
    report.cpus !== undefined ? `${report.cpus} CPUs` : undefined
  ].filter((s) => s !== undefined).join(" · ")
  const out: Array<string> = []
  let y = 0
  // title and machine
  y += 20
  out.push(`<text x="0" y="${y}" font-size="${font + 3}" font-weight="600">${escape(title)}</text>`)
  y += 20
  out.push(`<text x="0" y="${y}" font-size="${font}" class="measures">${escape(counted)}</text>`)
  if (machine !== "") {
    y += 20
    out.push(`<text x="0" y="${y}" font-size="${font}" class="muted">${escape(machine)}, medians</text>`)
  }
  // legend
  y += 24
  const ours = [...new Set(groups.flatMap((g) => g.bars.filter((b) => b.kind === "ours").map((b) => b.label)))]
  const legend: Array<readonly [string, string]> = [
    ["ours", ours.length === 0 ? "async-job" : ours.join(" / ")],
    ["base", "baseline, same run"]
  ]
  const others = groups.some((g) => g.bars.some((b) => b.kind === "other"))
  if (others) legend.push(["other", "not async-job (named)"])
  let lx = 0
  for (const [cls, text] of legend) {
    out.push(`<rect x="${lx}" y="${y - 11}" width="14" height="14" rx="2" class="${cls} legend"/>`)
    out.push(`<text x="${lx + 20}" y="${y}" font-size="${font}">${escape(text)}</text>`)
    lx += 20 + textWidth(text, font) + 24
  }
  y += 20
  out.push(
    `<text x="0" y="${y}" font-size="${font}" class="muted">${
      escape("Beside each baseline's bar, a ratio: the group's first figure ÷ that")
    }</text>`
  )
  y += 16
  out.push(`<text x="0" y="${y}" font-size="${font}" class="muted">${escape(`baseline's (${better})`)}</text>`)
  y += 14
  // plot area
  const plotTop = y
  const rowHeight = 22
  const groupGap = 8
  const rows: Array<string> = []
  for (const group of groups) {
    y += groupGap + 16
    rows.push(`<text x="0" y="${y}" font-size="${font}" class="group">${escape(group.name)}</text>`)
    for (const bar of group.bars) {
      const top = y + 6
      const w = Math.max(2, scale.x(bar.value))
      const text = formatValue(dimension, bar.value)
      rows.push(
        `<text x="${barLeft - 8}" y="${top + 13}" font-size="${font}" text-anchor="end"${
          bar.kind === "base" ? ` class="muted"` : ""
        }>${escape(bar.label)}</text>`,
        `<rect x="${barLeft}" y="${top}" width="${w.toFixed(1)}" height="${
          rowHeight - 6
        }" rx="2" class="${bar.kind}"><title>${escape(`${group.name} · ${bar.label}: ${text}`)}</title></rect>`,
        `<text x="${(barLeft + w + 6).toFixed(1)}" y="${top + 13}" font-size="${font}">${escape(text)}${
          bar.ratio === undefined ? "" : `<tspan class="ratio" dx="8">${formatRatio(bar.ratio)}×</tspan>`
        }</text>`
      )
      y += rowHeight
    }
  }
  y += 6
  const plotBottom = y
  // grid and axis, behind the bars
  const grid: Array<string> = []
  for (const tick of scale.ticks) {
    const x = (barLeft + scale.x(tick)).toFixed(1)
    grid.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotBottom}" class="grid"/>`)
  }
  grid.push(`<line x1="${barLeft}" y1="${plotBottom}" x2="${barLeft + barWidth}" y2="${plotBottom}" class="axis"/>`)
  const minGap = Math.max(...scale.ticks.map((t) => textWidth(formatValue(dimension, t), font))) + 6
  const spacing = scale.ticks.length > 1 ? barWidth / (scale.ticks.length - 1) : barWidth
  const every = Math.max(1, Math.ceil(minGap / spacing))
  scale.ticks.forEach((tick, i) => {
    if (i % every !== 0) return
    const x = (barLeft + scale.x(tick)).toFixed(1)
    grid.push(`<line x1="${x}" y1="${plotBottom}" x2="${x}" y2="${plotBottom + 5}" class="axis"/>`)
    grid.push(
      `<text x="${x}" y="${plotBottom + 20}" font-size="${font}" text-anchor="middle" class="muted">${
        escape(formatValue(dimension, tick))
      }</text>`
    )
  })
  y = plotBottom + 28
  const height = Math.ceil(y)
  const description = groups.map((g) =>
    `${g.name}: ${
      g.bars.map((b) =>
        `${b.label} ${formatValue(dimension, b.value)}${b.ratio === undefined ? "" : ` (${formatRatio(b.ratio)}×)`}`
      ).join(", ")
    }`
  ).join("; ")
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="ajb-chart" width="${chartWidth}" height="${height}"`,
    ` viewBox="0 0 ${chartWidth} ${height}" role="img" aria-labelledby="${id}-title ${id}-desc"`,
    ` font-family="Inter, ui-sans-serif, system-ui, sans-serif" data-dimension="${escape(dimension)}">`,
    `<title id="${id}-title">${escape(title)}</title><desc id="${id}-desc">${escape(description)}</desc>`,
    `<style>${style}</style>`,
    `<rect class="bg" width="100%" height="100%"/>`,
    ...grid,
    ...out,
    ...rows,
    `</svg>`
  ].join("\n")
  return { dimension, title, svg }
}

/** The charts of a run: time first, then memory, then any other unit; entries with no usable value are left out. */
export const charts = (report: ChartReport): Array<Chart> => {
  const byDimension = new Map<string, Array<Group>>()
  for (const entry of report.results) {
    if (!Number.isFinite(entry.value) || entry.value <= 0) continue
    const { dimension, factor } = dimensionOf(entry.unit)
    const subject = subjectOf(entry)
    const bars: Array<Bar> = [{
      label: subject ?? oursLabel(entry.name),
      value: entry.value * factor,
      kind: subject === undefined ? "ours" : "other",
      ratio: undefined
    }]
    for (const [name, value] of Object.entries(entry.baselines)) {
      if (!Number.isFinite(value) || value <= 0) continue
      bars.push({ label: name, value: value * factor, kind: "base", ratio: entry.ratios[name] ?? entry.value / value })
    }
    const groups = byDimension.get(dimension) ?? []
    groups.push({ name: entry.name, bars })
    byDimension.set(dimension, groups)
  }
  const order = (d: string) => (d === "time" ? 0 : d === "memory" ? 1 : 2)
  return [...byDimension].sort(([a], [b]) => order(a) - order(b)).map(([dimension, groups]) =>
    chartFor(dimension, groups, report)
  )
}

/** Every chart of a run stacked in one SVG document (`latest.svg`). */
export const chartsDocument = (report: ChartReport): string => {
  const all = charts(report)
  const gap = 24
  let y = 0
  const parts: Array<string> = []
  for (const chart of all) {
    const height = Number(/height="(\d+)"/.exec(chart.svg)?.[1] ?? 0)
    parts.push(chart.svg.replace("<svg ", `<svg y="${y}" `))
    y += height + gap
  }
  const height = Math.max(1, y - gap)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${chartWidth}" height="${height}" viewBox="0 0 ${chartWidth} ${height}">`,
    ...parts,
    `</svg>`
  ].join("\n")
}
