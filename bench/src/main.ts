/**
 * `pnpm bench [--quick] [--out DIR] [--only NAME,...]`: the engine's microbenchmarks, each against its
 * baselines measured in the same run. Prints a table, writes DIR/latest.json and DIR/latest.svg.
 *
 * DIR defaults to bench/results (the committed figures) for a full run, and to a new temporary
 * directory for `--quick`, so that a smoke run never overwrites the committed figures; the directory
 * written is printed on stderr.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as benchmarks from "./benchmarks.js"
import { runIsolated } from "./isolated.js"
import { type Report, svg, table } from "./report.js"

const here = dirname(fileURLToPath(import.meta.url))
const names = benchmarks.all.map((entry) => entry.name)

/** A full run's settings: the figures the README quotes. */
const full: benchmarks.Settings = {
  iterations: 5_000,
  samples: 15,
  allocationCycles: 20_000,
  allocationSamples: 5,
  samplingInterval: 512,
  pausedJobs: 100_000,
  heapSamples: 3,
  poolSize: 10_000,
  serviceRounds: 3,
  serviceSeconds: 10,
  serviceWarmupSeconds: 3,
  serviceStartups: 5
}

/** `--quick`: a smoke run, every entry measured briefly (its figures are not to be quoted). */
const quick: benchmarks.Settings = {
  iterations: 200,
  samples: 3,
  allocationCycles: 500,
  allocationSamples: 1,
  samplingInterval: 1024,
  pausedJobs: 2_000,
  heapSamples: 1,
  poolSize: 10_000,
  serviceRounds: 1,
  serviceSeconds: 1,
  serviceWarmupSeconds: 1,
  serviceStartups: 1
}

const versionOf = (pkg: string): string =>
  JSON.parse(readFileSync(join(here, "..", "node_modules", pkg, "package.json"), "utf8")).version as string

const command = Command.make("bench", {
  quick: Flag.Boolean("quick").pipe(
    Flag.withDefault(false),
    Flag.withDescription("a smoke run: few iterations, written to a temporary directory unless --out is given")
  ),
  out: Flag.Directory("out").pipe(
    Flag.optional,
    Flag.withDescription("where to write latest.json and latest.svg (default: bench/results)")
  ),
  only: Flag.String("only").pipe(
    Flag.map((text) => text.split(",").map((name) => name.trim()).filter((name) => name.length > 0)),
    Flag.filter(
      (only) => only.length > 0 && only.every((name) => names.includes(name)),
      () => `--only takes entries among: ${names.join(", ")}`
    ),
    Flag.optional,
    Flag.withDescription(`comma-separated entries to run, of: ${names.join(", ")}`)
  )
}, (options) =>
  Effect.gen(function*() {
    const settings = options.quick ? quick : full
    const out = Option.match(options.out, {
      onNone: () => options.quick ? mkdtempSync(join(tmpdir(), "async-job-bench-")) : join(here, "..", "results"),
      onSome: (dir) => resolve(dir)
    })
    const loadBefore = loadavg()
    const results: Array<benchmarks.Result> = []
    for (const entry of benchmarks.all) {
      if (Option.isSome(options.only) && !options.only.value.includes(entry.name)) continue
      const started = performance.now()
      const rows = yield* Effect.promise(() =>
        entry.process === "own" ? runIsolated(entry, settings) : entry.run(settings)
      )
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      for (const result of Array.isArray(rows) ? rows : [rows]) {
        results.push(result)
        process.stderr.write(`${result.name}: done in ${seconds} s\n`)
      }
    }
    const report: Report = {
      node: process.version,
      effect: versionOf("effect"),
      effect3: versionOf("effect3"),
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      date: new Date().toISOString(),
      quick: options.quick,
      loadAverage: { before: loadBefore[0]!, after: loadavg()[0]! },
      settings,
      results
    }
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, "latest.json"), JSON.stringify(report, null, 2) + "\n")
    writeFileSync(join(out, "latest.svg"), svg(report) + "\n")
    process.stderr.write(`wrote ${join(out, "latest.json")} and latest.svg\n`)
    yield* Console.log(table(report))
  }))

Command.run(command, { version: "0.0.0" }).pipe(
  // a bad command line: the CLI has printed the problem with the usage
  Effect.catchTag("ShowHelp", (help) =>
    Effect.sync(() => {
      if (help.errors.length > 0) process.exitCode = 2
    })),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
