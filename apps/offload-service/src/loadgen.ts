/**
 * `pnpm loadgen`: the `openssl speed -async_jobs` of this project.
 *
 * ```sh
 * pnpm loadgen --requests 2000 --concurrency 64 --op ecdsa-p256-sign
 * pnpm loadgen --compare --op ecdsa-p256-sign --concurrency 64
 * pnpm loadgen --compare --pin --op ecdsa-p256-sign --concurrency 64
 * ```
 *
 * `--pin` runs the client in a process of its own, pinned with `taskset` to
 * other CPUs than the service (see `loadgen/Pin.ts`), and says so; where it
 * cannot (one CPU, no `taskset`) it says why and runs unpinned.
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
import * as Pin from "./loadgen/Pin.js"
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
  pin: Options.boolean("pin").pipe(
    Options.withDescription(
      "run the client in a separate process pinned (taskset) to other CPUs than the service, when there are two or more"
    )
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
    const pin = options.pin ? yield* Pin.plan : undefined
    if (options.compare) {
      yield* Console.log(`loadgen --compare: ${what}`)
      if (pin !== undefined) yield* Console.log(Pin.describePlan(pin))
      const compared = yield* Compare.run({ ...load, entry: options.entry, around: Progress.around, pin })
      rows = compared.map((row) => [row.label, row.report] as const)
    } else {
      yield* Console.log(`loadgen: ${what} against ${options.url}`)
      if (pin !== undefined) yield* Console.log(Pin.describePlan(pin))
      if (pin?._tag === "Pinned") {
        yield* Console.log(
          `the service at ${options.url} is not started by loadgen: only the client is pinned; ` +
            `start the service with taskset -c ${Pin.cpuList(pin.service)}, or use --compare`
        )
      }
      const report = yield* Progress.around("load", options.requests, (onProgress) => {
        const run = { ...load, url: options.url, onProgress }
        return pin?._tag === "Pinned" ? Pin.runClient(run, pin.client) : Load.run(run)
      })
      rows = [["service", report]]
    }
    yield* Console.log(Stats.table(rows))
    if (rows.length === 2) {
      yield* Console.log(Stats.ratioLine(rows[0]![0], rows[0]![1], rows[1]![0], rows[1]![1]))
    }
    const errors = rows.flatMap(([label, report]) => report.errors.map((error) => `${label}: ${error}`))
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
  Effect.catchTag("ClientError", (error) =>
    Effect.zipRight(
      Console.error(`loadgen: ${error.message}\n--- the client's last output ---\n${error.output}`),
      exitCode(1)
    )),
  Effect.provide(Layer.mergeAll(NodeContext.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
