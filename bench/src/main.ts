/**
 * `pnpm bench [--quick] [--out DIR] [--only NAME,...]`: the engine's microbenchmarks, each against its
 * baselines measured in the same run. Prints a table, writes DIR/latest.json and DIR/latest.svg
 * (DIR defaults to bench/results).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as benchmarks from "./benchmarks.js"
import { type Report, svg, table } from "./report.js"

const args = process.argv.slice(2)
const flag = (name: string) => args.includes(name)
const option = (name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const quick = flag("--quick")
const here = dirname(fileURLToPath(import.meta.url))
const out = resolve(option("--out") ?? join(here, "..", "results"))
const only = option("--only")?.split(",")

const settings: benchmarks.Settings = quick
  ? { iterations: 200, samples: 3, pausedJobs: 2_000, poolSize: 10_000 }
  : { iterations: 10_000, samples: 7, pausedJobs: 100_000, poolSize: 10_000 }

const effectVersion = JSON.parse(
  readFileSync(join(here, "..", "node_modules", "effect", "package.json"), "utf8")
).version as string

const results: Array<benchmarks.Result> = []
for (const [name, bench] of benchmarks.all) {
  if (only !== undefined && !only.includes(name)) continue
  const result = await bench(settings)
  results.push(result)
  process.stderr.write(`${result.name}: done\n`)
}
const report: Report = {
  node: process.version,
  effect: effectVersion,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  date: new Date().toISOString(),
  quick,
  results
}
mkdirSync(out, { recursive: true })
writeFileSync(join(out, "latest.json"), JSON.stringify(report, null, 2) + "\n")
writeFileSync(join(out, "latest.svg"), svg(report) + "\n")
console.log(table(report))
