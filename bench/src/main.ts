/**
 * `pnpm bench [--quick] [--out DIR] [--only NAME,...]`: the engine's microbenchmarks, each against its
 * baselines measured in the same run. Prints a table, writes DIR/latest.json and DIR/latest.svg.
 *
 * DIR defaults to bench/results (the committed figures) for a full run, and to a new temporary
 * directory for `--quick`, so that a smoke run never overwrites the committed figures; the directory
 * written is printed on stderr.
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import * as benchmarks from "./benchmarks.js"
import { type Report, svg, table } from "./report.js"

const here = dirname(fileURLToPath(import.meta.url))
const names = benchmarks.all.map(([name]) => name)

const command = Command.make("bench", {
  quick: Options.boolean("quick").pipe(
    Options.withDescription("a smoke run: few iterations, written to a temporary directory unless --out is given")
  ),
  out: Options.directory("out").pipe(
    Options.optional,
    Options.withDescription("where to write latest.json and latest.svg (default: bench/results)")
  ),
  only: Options.text("only").pipe(
    Options.withDescription(`comma-separated entries to run, of: ${names.join(", ")}`),
    Options.map((text) => text.split(",").map((name) => name.trim()).filter((name) => name.length > 0)),
    Options.filterMap(
      (only) => only.every((name) => names.includes(name)) ? Option.some(only) : Option.none(),
      `--only takes entries among: ${names.join(", ")}`
    ),
    Options.optional
  )
}, (options) =>
  Effect.gen(function*() {
    const settings: benchmarks.Settings = options.quick
      ? { iterations: 200, samples: 3, pausedJobs: 2_000, poolSize: 10_000 }
      : { iterations: 10_000, samples: 7, pausedJobs: 100_000, poolSize: 10_000 }
    const out = Option.match(options.out, {
      onNone: () => options.quick ? mkdtempSync(join(tmpdir(), "async-job-bench-")) : join(here, "..", "results"),
      onSome: (dir) => resolve(dir)
    })
    const effectVersion = JSON.parse(
      readFileSync(join(here, "..", "node_modules", "effect", "package.json"), "utf8")
    ).version as string

    const results: Array<benchmarks.Result> = []
    for (const [name, bench] of benchmarks.all) {
      if (Option.isSome(options.only) && !options.only.value.includes(name)) continue
      const result = yield* Effect.promise(() => bench(settings))
      results.push(result)
      process.stderr.write(`${result.name}: done\n`)
    }
    const report: Report = {
      node: process.version,
      effect: effectVersion,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "unknown",
      date: new Date().toISOString(),
      quick: options.quick,
      results
    }
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, "latest.json"), JSON.stringify(report, null, 2) + "\n")
    writeFileSync(join(out, "latest.svg"), svg(report) + "\n")
    process.stderr.write(`wrote ${join(out, "latest.json")} and latest.svg\n`)
    yield* Console.log(table(report))
  }))

Command.run(command, { name: "bench", version: "0.0.0" })(process.argv).pipe(
  // @effect/cli has printed the problem and the usage
  Effect.catchIf(ValidationError.isValidationError, () => Effect.sync(() => process.exitCode = 2)),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain
)
