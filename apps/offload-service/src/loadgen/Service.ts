/**
 * Starting and stopping the offload service as a child process, for
 * `loadgen --compare`.
 *
 * **Details**
 *
 * What loadgen expects of the service entry (by default what `pnpm start`
 * runs, `node scripts/start.mjs`: the bundle; a TypeScript entry is run with
 * `node --import tsx`):
 * it listens on `HOST`:`PORT` from the environment, picks its engine from
 * `ENGINE` (unset: worker threads; `inline`: on the request thread), answers
 * `GET /healthz` with 200 once ready, and exits on SIGTERM.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import * as Net from "node:net"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Pin from "./Pin.js"

/**
 * The service did not come up: it exited, or `/healthz` never answered 200.
 */
export class ServiceStartError extends Data.TaggedError("ServiceStartError")<{
  readonly message: string
  /** The last lines the service printed. */
  readonly output: string
}> {}

/**
 * The service entry loadgen starts by default: what `pnpm start` runs,
 * `apps/offload-service/scripts/start.mjs` (the service's bundle, rebuilt
 * first if stale).
 */
export const defaultEntry: string = fileURLToPath(new URL("../../scripts/start.mjs", import.meta.url))

/**
 * Finds a free TCP port on a host by binding port 0 and releasing it.
 *
 * **Gotchas**: another process may take the port before the service binds it.
 */
export const freePort = (host: string): Effect.Effect<number> =>
  Effect.callback<number>((resume) => {
    const server = Net.createServer()
    server.once("error", (error) => resume(Effect.die(error)))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/**
 * A running service.
 */
export interface RunningService {
  readonly url: string
  readonly pid: number
}

export interface StartOptions {
  /** The entry to run (a TypeScript one with tsx); default {@link defaultEntry}. */
  readonly entry?: string | undefined
  /** Extra environment; a value of `undefined` removes the variable. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  readonly host?: string | undefined
  /** How long to wait for `/healthz`; default 60 s. */
  readonly readyTimeout?: Duration.Input | undefined
  /** The CPUs to pin the service to (`taskset -c`); default: not pinned. */
  readonly cpus?: ReadonlyArray<number> | undefined
}

// `node --import tsx entry.ts`: what the tsx CLI does, without its relaying parent process
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/**
 * Starts the service on a free port and waits until `/healthz` answers 200.
 * Closing the scope sends SIGTERM, then SIGKILL after 10 s, and waits for
 * the process to exit.
 */
export const start = (
  options: StartOptions = {}
): Effect.Effect<RunningService, ServiceStartError, Scope.Scope | HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const host = options.host ?? "127.0.0.1"
    const port = yield* freePort(host)
    const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), HOST: host, ...options.env }
    for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key]
    const output: Array<string> = []
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(options.entry ?? defaultEntry, env, output, options.cpus)),
      (child) => stop(child)
    )
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`
    const client = yield* HttpClient.HttpClient
    const healthy = client.get(`${url}/healthz`).pipe(
      Effect.flatMap((response) => response.status === 200 ? Effect.void : Effect.fail(`HTTP ${response.status}`)),
      Effect.mapError((error) => typeof error === "string" ? error : error.message),
      Effect.retry(Schedule.spaced(Duration.millis(100))),
      Effect.timeoutOrElse({
        duration: options.readyTimeout ?? Duration.seconds(60),
        orElse: () => Effect.fail(`/healthz did not answer 200 at ${url}`)
      })
    )
    const exited = Effect.callback<never, string>((resume) => {
      const onExit = (code: number | null, signal: string | null) =>
        resume(Effect.fail(`the service exited (${signal ?? `code ${code}`}) before it was healthy`))
      if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode)
      else child.once("exit", onExit)
      return Effect.sync(() => child.off("exit", onExit))
    })
    yield* Effect.raceFirst(healthy, exited).pipe(
      Effect.mapError((message) => new ServiceStartError({ message, output: output.join("") }))
    )
    return { url, pid: child.pid! }
  })

const spawn = (
  entry: string,
  env: Record<string, string | undefined>,
  output: Array<string>,
  cpus: ReadonlyArray<number> | undefined
) => {
  const node = [process.execPath, /\.[cm]?ts$/.test(entry) ? ["--import", tsxLoader, entry] : [entry]] as const
  // taskset execs node: the pid is the service's
  const [command, args] = cpus === undefined ? node : Pin.pinned(cpus, ...node)
  const child = ChildProcess.spawn(command, args, {
    env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString("utf8"))
    if (output.length > 50) output.shift()
  }
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  return child
}

const stop = (child: ChildProcess.ChildProcess): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.kill("SIGTERM")
  })
