/**
 * `loadgen --pin`: the load-generating client in a process of its own, pinned
 * with `taskset` to other CPUs than the service, so that the two do not take
 * each other's cores.
 *
 * **Details**
 *
 * The CPUs are those this process may run on (`Cpus_allowed_list` of
 * `/proc/self/status`, else every CPU). The client, one Node thread doing
 * HTTP, gets the last of them; the service (its main thread and its engine's
 * threads) gets the others: with two cores, the service on CPU 0 and the
 * client on CPU 1. With one CPU, or without a working `taskset`, nothing is
 * pinned and {@link Plan} says why.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Operation from "../engine/Operation.js"
import type * as Load from "./Load.js"

/**
 * Where the service and the client run: on CPUs apart, or unpinned, with the
 * reason.
 */
export type Plan =
  | { readonly _tag: "Pinned"; readonly service: ReadonlyArray<number>; readonly client: ReadonlyArray<number> }
  | { readonly _tag: "Unpinned"; readonly reason: string }

/**
 * The pinned client could not run or did not report.
 */
export class ClientError extends Data.TaggedError("ClientError")<{
  readonly message: string
  /** The last output of the client process. */
  readonly output: string
}> {}

/**
 * Parses a CPU list as `taskset` and `/proc` write it (`0-3,6`), ascending and
 * without repeats; `undefined` if it is not one.
 */
export const parseCpuList = (text: string): ReadonlyArray<number> | undefined => {
  const cpus = new Set<number>()
  for (const part of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (match === null) return undefined
    const from = Number(match[1])
    const to = match[2] === undefined ? from : Number(match[2])
    if (to < from) return undefined
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu)
  }
  return [...cpus].sort((a, b) => a - b)
}

/**
 * Formats CPUs as a `taskset -c` list (`0,1,2`).
 */
export const cpuList = (cpus: ReadonlyArray<number>): string => cpus.join(",")

/**
 * The plan for the CPUs this process may use, given whether `taskset` works:
 * the client on the last CPU, the service on the others.
 */
export const planFor = (cpus: ReadonlyArray<number>, taskset: boolean): Plan => {
  if (!taskset) return { _tag: "Unpinned", reason: "taskset is not available (util-linux)" }
  if (cpus.length < 2) {
    return { _tag: "Unpinned", reason: `only ${cpus.length} CPU available (${cpuList(cpus)}), two are needed` }
  }
  return { _tag: "Pinned", service: cpus.slice(0, -1), client: cpus.slice(-1) }
}

/** The CPUs this process may run on. */
const allowedCpus = Effect.sync((): ReadonlyArray<number> => {
  try {
    const status = Fs.readFileSync("/proc/self/status", "utf8")
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)
    const cpus = line === null ? undefined : parseCpuList(line[1]!)
    if (cpus !== undefined && cpus.length > 0) return cpus
  } catch {
    // not Linux: every CPU
  }
  return Array.from({ length: Os.availableParallelism() }, (_, i) => i)
})

/** Whether `taskset` runs here (it is Linux-only). */
const tasksetWorks = (cpu: number) =>
  Effect.sync(() => {
    const result = ChildProcess.spawnSync("taskset", ["-c", String(cpu), process.execPath, "-e", ""], {
      stdio: "ignore",
      timeout: 10_000
    })
    return result.error === undefined && result.status === 0
  })

/**
 * The plan on this machine ({@link planFor} the CPUs this process may use).
 */
export const plan: Effect.Effect<Plan> = Effect.flatMap(
  allowedCpus,
  (cpus) => Effect.map(tasksetWorks(cpus[0] ?? 0), (taskset) => planFor(cpus, taskset))
)

/**
 * The line loadgen prints about a plan.
 */
export const describePlan = (plan: Plan): string =>
  plan._tag === "Pinned"
    ? `pinned with taskset: service on CPU ${cpuList(plan.service)}, client (a separate process) on CPU ${
      cpuList(plan.client)
    }`
    : `not pinned: ${plan.reason}; the client runs in this process, unpinned, beside the service`

/**
 * The command line that runs `command` on `cpus` (through `taskset -c`).
 */
export const pinned = (
  cpus: ReadonlyArray<number>,
  command: string,
  args: ReadonlyArray<string>
): readonly [string, ReadonlyArray<string>] => ["taskset", ["-c", cpuList(cpus), command, ...args]]

// a number of a report; NaN (a percentile of no samples) travels as null
const ReportNumber = Schema.NullOr(Schema.Number).pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transform({
      decode: (n: number | null) => n ?? Number.NaN,
      encode: (n: number) => Number.isFinite(n) ? n : null
    })
  )
)

const Report = Schema.Struct({
  ok: Schema.Number,
  failed: Schema.Number,
  rejected: Schema.Number,
  elapsedMs: Schema.Number,
  throughput: ReportNumber,
  latency: Schema.Struct({
    p50: ReportNumber,
    p95: ReportNumber,
    p99: ReportNumber,
    mean: ReportNumber,
    max: ReportNumber
  }),
  errors: Schema.Array(Schema.String)
})

/**
 * One line the client process prints on stdout: its progress, or its report
 * (the last line).
 */
export const ClientLine = Schema.fromJsonString(Schema.Union([
  Schema.Struct({ done: Schema.Number }),
  Schema.Struct({ report: Report })
]))

/**
 * The client's options as its process takes them (one JSON argument).
 */
export const ClientArgs = Schema.fromJsonString(Schema.Struct({
  url: Schema.String,
  op: Schema.Literals(Operation.ops),
  requests: Schema.Number,
  concurrency: Schema.Number,
  size: Schema.optional(Schema.Number),
  scryptN: Schema.optional(Schema.Number)
}))

const decodeLine = Schema.decodeResult(ClientLine)

const clientEntry = fileURLToPath(new URL("./client.ts", import.meta.url))
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/**
 * Runs the load (`Load.run`) in a child process pinned to `cpus`, relaying
 * its progress to `onProgress`; answers its report. Interrupting it kills the
 * child.
 */
export const runClient = (
  options: Load.Options,
  cpus: ReadonlyArray<number>
): Effect.Effect<Load.Report, ClientError> =>
  Effect.callback<Load.Report, ClientError>((resume) => {
    const args = Schema.encodeSync(ClientArgs)({
      url: options.url,
      op: options.op,
      requests: options.requests,
      concurrency: options.concurrency,
      size: options.size,
      scryptN: options.scryptN
    })
    const [command, argv] = pinned(cpus, process.execPath, ["--import", tsxLoader, clientEntry, args])
    const child = ChildProcess.spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"] })
    let buffer = ""
    let stderr = ""
    let report: Load.Report | undefined
    let bad: string | undefined
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffer += chunk
      for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
        const line = decodeLine(buffer.slice(0, end))
        buffer = buffer.slice(end + 1)
        if (Result.isFailure(line)) bad ??= line.failure.message
        else if ("done" in line.success) options.onProgress?.(line.success.done)
        else report = line.success.report
      }
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000)
    })
    child.once("error", (error) => resume(Effect.fail(new ClientError({ message: error.message, output: stderr }))))
    child.once("close", (code, signal) => {
      if (report !== undefined && code === 0) return resume(Effect.succeed(report))
      const why = bad !== undefined ? `an unreadable line: ${bad}` : `exit ${signal ?? code} without a report`
      resume(Effect.fail(new ClientError({ message: `the pinned client ended with ${why}`, output: stderr })))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })
