/**
 * `pnpm loadgen`: the `openssl speed -async_jobs` of this project.
 *
 * ```sh
 * pnpm loadgen --requests 2000 --concurrency 64 --op ecdsa-p256-sign
 * pnpm loadgen --compare --op ecdsa-p256-sign --concurrency 64
 * ```
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Compare from "./loadgen/Compare.js"
import * as Load from "./loadgen/Load.js"
import * as Progress from "./loadgen/Progress.js"
import * as Service from "./loadgen/Service.js"
import * as Stats from "./loadgen/Stats.js"
import * as Operation from "./Operation.js"

const positive = (name: string) =>
  Options.integer(name).pipe(
    Options.filterMap((n) => n >= 1 ? Option.some(n) : Option.none(), `--${name} must be a positive integer`)
  )

const command = Command.make("loadgen", {
  requests: positive("requests").pipe(Options.withDefault(1000), Options.withDescription("jobs to finish")),
  concurrency: positive("concurrency").pipe(Options.withDefault(64), Options.withDescription("requests in flight")),
  op: Options.choice("op", Operation.ops).pipe(Options.withDefault("ecdsa-p256-sign" as const)),
  url: Options.text("url").pipe(
    Options.withDefault("http://127.0.0.1:8080"),
    Options.withDescription("the service to load (ignored with --compare)")
  ),
  size: positive("size").pipe(Options.withDefault(1024), Options.withDescription("bytes of data per request")),
  scryptN: positive("scrypt-n").pipe(Options.withDefault(16384), Options.withDescription("scrypt's N for --op scrypt")),
  compare: Options.boolean("compare").pipe(
    Options.withDescription("start the service twice (worker threads, then ENGINE=inline) and compare")
  ),
  entry: Options.text("service").pipe(
    Options.withDefault(Service.defaultEntry),
    Options.withDescription("the service entry --compare starts")
  )
}, (options) =>
  Effect.gen(function*() {
    const load = {
      op: options.op,
      requests: options.requests,
      concurrency: options.concurrency,
      size: options.size,
      scryptN: options.scryptN
    }
    const what = `${options.op} × ${options.requests} at concurrency ${options.concurrency}`
    let rows: ReadonlyArray<readonly [string, Load.Report]>
    if (options.compare) {
      yield* Console.log(`loadgen --compare: ${what}`)
      const compared = yield* Compare.run({ ...load, entry: options.entry, around: Progress.around })
      rows = compared.map((row) => [row.label, row.report] as const)
    } else {
      yield* Console.log(`loadgen: ${what} against ${options.url}`)
      const report = yield* Progress.around("load", options.requests, (onProgress) =>
        Load.run({ ...load, url: options.url, onProgress }))
      rows = [["service", report]]
    }
    yield* Console.log(Stats.table(rows))
    if (rows.length === 2) {
      yield* Console.log(Stats.ratioLine(rows[0]![0], rows[0]![1], rows[1]![0], rows[1]![1]))
    }
    const errors = rows.flatMap(([label, report]) =>
      report.errors.map((error) =>
        `${label}: ${error}`
      )
    )
    for (const error of errors) yield* Console.error(error)
    if (rows.some(([, report]) => report.failed > 0)) yield* exitCode(1)
  }))

const exitCode = (code: number) =>
  Effect.sync(() => {
    process.exitCode = code
  })

const cli = Command.run(command, { name: "loadgen", version: "0.1.0" })

cli(process.argv).pipe(
  Effect.catchIf(ValidationError.isValidationError, () => exitCode(2)), // @effect/cli has printed it
  Effect.catchTag("ServiceStartError", (error) =>
    Effect.zipRight(
      Console.error(`loadgen: ${error.message}\n--- the service's last output ---\n${error.output}`),
      exitCode(1)
    )),
  Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
