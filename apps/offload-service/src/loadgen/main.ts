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
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Operation from "../engine/Operation.js"
import * as Compare from "./Compare.js"
import * as Load from "./Load.js"
import * as Pin from "./Pin.js"
import * as Progress from "./Progress.js"
import * as Service from "./Service.js"
import * as Stats from "./Stats.js"

const positive = (name: string) =>
  Flag.Int(name).pipe(Flag.filter((n) => n >= 1, () => `--${name} must be a positive integer`))

const command = Command.make("loadgen", {
  requests: positive("requests").pipe(Flag.withDefault(1000), Flag.withDescription("jobs to finish")),
  concurrency: positive("concurrency").pipe(Flag.withDefault(64), Flag.withDescription("requests in flight")),
  op: Flag.Literals("op", Operation.ops).pipe(Flag.withDefault("ecdsa-p256-sign" as const)),
  url: Flag.String("url").pipe(
    Flag.withDefault("http://127.0.0.1:8080"),
    Flag.withDescription("the service to load (ignored with --compare)")
  ),
  size: positive("size").pipe(Flag.withDefault(1024), Flag.withDescription("bytes of data per request")),
  scryptN: positive("scrypt-n").pipe(Flag.withDefault(16384), Flag.withDescription("scrypt's N for --op scrypt")),
  compare: Flag.Boolean("compare").pipe(
    Flag.withDefault(false),
    Flag.withDescription("start the service twice (worker threads, then ENGINE=inline) and compare")
  ),
  pin: Flag.Boolean("pin").pipe(
    Flag.withDefault(false),
    Flag.withDescription(
      "run the client in a separate process pinned (taskset) to other CPUs than the service, when there are two or more"
    )
  ),
  entry: Flag.String("service").pipe(
    Flag.withDefault(Service.defaultEntry),
    Flag.withDescription("the service entry --compare starts")
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

Command.run(command, { version: "0.1.0" }).pipe(
  // a bad command line: the CLI has printed it with the help
  Effect.catchTag("ShowHelp", (help) => help.errors.length > 0 ? exitCode(2) : Effect.void),
  Effect.catchTag("ServiceStartError", (error) =>
    Effect.andThen(
      Console.error(`loadgen: ${error.message}\n--- the service's last output ---\n${error.output}`),
      exitCode(1)
    )),
  Effect.catchTag("ClientError", (error) =>
    Effect.andThen(
      Console.error(`loadgen: ${error.message}\n--- the client's last output ---\n${error.output}`),
      exitCode(1)
    )),
  Effect.provide(Layer.mergeAll(NodeServices.layer, NodeHttpClient.layerUndici)),
  NodeRuntime.runMain
)
