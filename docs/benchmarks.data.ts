/**
 * Build-time loader for the Benchmarks page: reads `bench/results/latest.json` (written by `pnpm bench`) and draws
 * its charts with the bench's own chart module (`.vitepress/bench-results.ts`), so that the page follows every new
 * run. The file may be absent; the page then says how to produce it.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { defineLoader } from "vitepress"
import { type BenchData, parse } from "./.vitepress/bench-results.js"

declare const data: BenchData
export { data }

/** `DOCS_BENCH_RESULTS` points the page at another folder (to check how it renders given results). */
const resultsDir = process.env.DOCS_BENCH_RESULTS ??
  Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "bench", "results")
const jsonFile = Path.join(resultsDir, "latest.json")

const empty = { machine: [], rows: [], charts: [], meaning: null, targets: [] }

// No `watch`: VitePress globs watch patterns, and a pattern outside docs/ makes that glob crawl far and long.
export default defineLoader({
  load: (): BenchData => {
    if (!Fs.existsSync(jsonFile)) return { ...empty, error: null, found: false }
    try {
      return { ...parse(Fs.readFileSync(jsonFile, "utf8")), error: null, found: true }
    } catch (error) {
      return { ...empty, error: String(error), found: true }
    }
  }
})
