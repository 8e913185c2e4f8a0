/**
 * Build-time loader for the Benchmarks page: reads `bench/results/latest.json` and `latest.svg` (written by
 * `pnpm bench`). Either may be absent; the page then says how to produce them.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { defineLoader } from "vitepress"

export interface BenchResult {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly baselines: Readonly<Record<string, number>>
  readonly ratios: Readonly<Record<string, number>>
}

export interface BenchData {
  /** Where the results came from: Node version, effect version, CPUs (as recorded by `pnpm bench`). */
  readonly machine: ReadonlyArray<{ readonly label: string; readonly value: string }>
  readonly results: ReadonlyArray<BenchResult>
  /** Every baseline name, for the table's columns. */
  readonly baselineNames: ReadonlyArray<string>
  /** The chart, as SVG markup, or null. */
  readonly svg: string | null
  /** Why the JSON could not be used, or null. */
  readonly error: string | null
  readonly found: boolean
}

declare const data: BenchData
export { data }

/** `DOCS_BENCH_RESULTS` points the page at another folder (to check how it renders given results). */
const resultsDir = process.env.DOCS_BENCH_RESULTS ??
  Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "bench", "results")
const jsonFile = Path.join(resultsDir, "latest.json")
const svgFile = Path.join(resultsDir, "latest.svg")

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const numbers = (u: unknown): Record<string, number> =>
  isRecord(u)
    ? Object.fromEntries(Object.entries(u).filter((e): e is [string, number] => typeof e[1] === "number"))
    : {}

const parse = (text: string): Pick<BenchData, "machine" | "results" | "baselineNames"> => {
  const json: unknown = JSON.parse(text)
  if (!isRecord(json) || !Array.isArray(json.results)) throw new Error("latest.json has no results array")
  const machine = (["node", "effect", "cpus"] as const)
    .filter((key) => json[key] !== undefined)
    .map((key) => ({ label: key, value: typeof json[key] === "string" ? json[key] : JSON.stringify(json[key]) }))
  const results = json.results.filter(isRecord).map((r): BenchResult => ({
    name: String(r.name),
    unit: String(r.unit ?? ""),
    value: typeof r.value === "number" ? r.value : Number.NaN,
    baselines: numbers(r.baselines),
    ratios: numbers(r.ratios)
  }))
  const baselineNames = [...new Set(results.flatMap((r) => Object.keys(r.baselines)))]
  return { machine, results, baselineNames }
}

/** Keeps only the `<svg>` element (drops an XML prolog or doctype). */
const svgElement = (text: string): string | null => {
  const start = text.indexOf("<svg")
  const end = text.lastIndexOf("</svg>")
  return start >= 0 && end > start ? text.slice(start, end + "</svg>".length) : null
}

// No `watch`: VitePress globs watch patterns, and a pattern outside docs/ makes that glob crawl far and long.
export default defineLoader({
  load: (): BenchData => {
    const svg = Fs.existsSync(svgFile) ? svgElement(Fs.readFileSync(svgFile, "utf8")) : null
    if (!Fs.existsSync(jsonFile)) {
      return { machine: [], results: [], baselineNames: [], svg, error: null, found: false }
    }
    try {
      return { ...parse(Fs.readFileSync(jsonFile, "utf8")), svg, error: null, found: true }
    } catch (error) {
      return { machine: [], results: [], baselineNames: [], svg, error: String(error), found: true }
    }
  }
})
