/**
 * A small Prometheus exporter for Effect Metrics: renders `Metric.snapshot`
 * in the Prometheus text exposition format (version 0.0.4).
 *
 * **Details**
 *
 * | Effect metric | Prometheus |
 * |---|---|
 * | counter | `counter` |
 * | gauge | `gauge` |
 * | histogram | `histogram`: cumulative `_bucket{le}` lines (with `+Inf`), `_sum`, `_count` |
 * | summary | `summary`: `{quantile}` lines, `_sum`, `_count` |
 * | frequency | `counter` with one series per value, labelled `key` |
 *
 * Names and label names are sanitised to `[a-zA-Z_:][a-zA-Z0-9_:]*`; label
 * values are escaped. Series sharing a name share one `# HELP` / `# TYPE`
 * header (the first description found wins).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKey from "effect/MetricKey"
import type * as MetricLabel from "effect/MetricLabel"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"

/**
 * The content type of the text format.
 *
 * @since 0.1.0
 * @category constants
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

const sanitizeName = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const sanitizeLabel = (name: string): string => {
  const cleaned = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(cleaned) ? cleaned : `_${cleaned}`
}

const escapeValue = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const escapeHelp = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const formatNumber = (value: number | bigint): string => {
  if (typeof value === "bigint") return value.toString()
  if (Number.isNaN(value)) return "NaN"
  if (value === Number.POSITIVE_INFINITY) return "+Inf"
  if (value === Number.NEGATIVE_INFINITY) return "-Inf"
  return String(value)
}

const labels = (tags: ReadonlyArray<MetricLabel.MetricLabel>, extra?: readonly [string, string]): string => {
  const pairs = tags.map((tag) => `${sanitizeLabel(tag.key)}="${escapeValue(tag.value)}"`)
  if (extra !== undefined) pairs.push(`${extra[0]}="${escapeValue(extra[1])}"`)
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`
}

interface Family {
  type: string
  help: string | undefined
  readonly lines: Array<string>
}

const typeOf = (state: MetricState.MetricState.Untyped): string => {
  if (MetricState.isCounterState(state)) return "counter"
  if (MetricState.isGaugeState(state)) return "gauge"
  if (MetricState.isHistogramState(state)) return "histogram"
  if (MetricState.isSummaryState(state)) return "summary"
  return "counter"
}

const seriesOf = (name: string, key: MetricKey.MetricKey.Untyped, state: MetricState.MetricState.Untyped) => {
  const tags = key.tags
  const out: Array<string> = []
  if (MetricState.isCounterState(state)) {
    out.push(`${name}${labels(tags)} ${formatNumber(state.count)}`)
  } else if (MetricState.isGaugeState(state)) {
    out.push(`${name}${labels(tags)} ${formatNumber(state.value)}`)
  } else if (MetricState.isHistogramState(state)) {
    // Effect's buckets are already cumulative
    let sawInf = false
    for (const [boundary, count] of state.buckets) {
      if (boundary === Number.POSITIVE_INFINITY) sawInf = true
      out.push(`${name}_bucket${labels(tags, ["le", formatNumber(boundary)])} ${count}`)
    }
    if (!sawInf) out.push(`${name}_bucket${labels(tags, ["le", "+Inf"])} ${state.count}`)
    out.push(`${name}_sum${labels(tags)} ${formatNumber(state.sum)}`)
    out.push(`${name}_count${labels(tags)} ${state.count}`)
  } else if (MetricState.isSummaryState(state)) {
    for (const [quantile, value] of state.quantiles) {
      const shown = Option.match(value, { onNone: () => "NaN", onSome: formatNumber })
      out.push(`${name}${labels(tags, ["quantile", formatNumber(quantile)])} ${shown}`)
    }
    out.push(`${name}_sum${labels(tags)} ${formatNumber(state.sum)}`)
    out.push(`${name}_count${labels(tags)} ${state.count}`)
  } else if (MetricState.isFrequencyState(state)) {
    for (const [value, count] of state.occurrences) {
      out.push(`${name}${labels(tags, ["key", value])} ${count}`)
    }
  }
  return out
}

/**
 * Renders metric pairs as Prometheus text, families sorted by name.
 *
 * @since 0.1.0
 * @category rendering
 */
export const render = (pairs: Iterable<MetricPair.MetricPair.Untyped>): string => {
  const families = new Map<string, Family>()
  for (const pair of pairs) {
    const name = sanitizeName(pair.metricKey.name)
    let family = families.get(name)
    if (family === undefined) {
      family = { type: typeOf(pair.metricState), help: undefined, lines: [] }
      families.set(name, family)
    }
    if (family.help === undefined) family.help = Option.getOrUndefined(pair.metricKey.description)
    family.lines.push(...seriesOf(name, pair.metricKey, pair.metricState))
  }
  const out: Array<string> = []
  for (const name of Array.from(families.keys()).sort()) {
    const family = families.get(name)!
    if (family.help !== undefined) out.push(`# HELP ${name} ${escapeHelp(family.help)}`)
    out.push(`# TYPE ${name} ${family.type}`)
    out.push(...family.lines)
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`
}

/**
 * Every metric of the process, as Prometheus text.
 *
 * @since 0.1.0
 * @category rendering
 */
export const scrape: Effect.Effect<string> = Effect.map(Metric.snapshot, render)
