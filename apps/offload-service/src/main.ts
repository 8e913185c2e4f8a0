/**
 * `pnpm start`: config → layers → launch. The async offload job service on
 * `127.0.0.1:8080`, or where `HOST` and `PORT` say (`config.ts` lists every
 * setting).
 *
 * SIGINT and SIGTERM shut it down: the port closes at once, outstanding jobs
 * get `SHUTDOWN_GRACE` to end and are then cancelled (their wait fds cleaned
 * up), engine threads stopped, exit 0. A second signal cuts the grace short
 * (`shutdown.ts`). A port already in use, a bad setting or a store that cannot
 * be opened is one line on stderr and exit code 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServerError from "effect/http/HttpServerError"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as ServiceConfig from "./config.js"
import * as CryptoEngine from "./engine/CryptoEngine.js"
import * as Server from "./http/server.js"
import * as Jobs from "./jobs/Jobs.js"
import * as Shutdown from "./shutdown.js"

// built first, so released last: after the engine's threads have stopped (and only after a run, not a failed start)
const Stopped = Layer.effectDiscard(
  Effect.addFinalizer((exit) =>
    Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? Effect.void : Console.log("stopped")
  )
)

interface ListenError {
  readonly code?: string | undefined
  readonly message?: string | undefined
  readonly address?: string | undefined
  readonly port?: number | undefined
}

const isListenError = (u: unknown): u is ListenError => typeof u === "object" && u !== null

/** The one line a failure to listen prints: node's error names the address. */
const listenFailure = (error: HttpServerError.ServeError) => {
  const cause: ListenError = isListenError(error.cause) ? error.cause : {}
  const where = cause.address === undefined ? "the configured address" : `${cause.address}:${cause.port}`
  return cause.code === "EADDRINUSE"
    ? `error: ${where} is already in use`
    : `error: cannot listen on ${where}: ${cause.message}`
}

/** A bad setting in one line: the problem and where (`Expected … at ["PORT"]`), without the error's own wrapper. */
const settingProblem = (error: Config.ConfigError): string =>
  error.cause.message.split("\n").map((line) => line.trim()).filter((line) => line.length > 0).join(" ")

/** Every way the service fails to start is one line; the cause's detail goes to the debug log. */
const report = (cause: Cause.Cause<unknown>) => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof HttpServerError.ServeError) return Console.error(listenFailure(error))
    if (error instanceof Config.ConfigError) return Console.error(`error: bad setting: ${settingProblem(error)}`)
    if (error instanceof Jobs.StartupError) {
      return Effect.andThen(Effect.logDebug(error.cause), Console.error(`error: ${error.message}`))
    }
  }
  return Effect.logError(cause)
}

/** Stopped by a signal (the main fiber interrupted) is the normal end: exit 0; a failure exits 1. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

Server.layer.pipe(
  Layer.provide(CryptoEngine.layerService),
  Layer.provide(ServiceConfig.layerConfig),
  Layer.provide(Shutdown.layerSecondSignal),
  Layer.provide(Stopped),
  Layer.launch,
  Effect.tapCause(report),
  (program) => NodeRuntime.runMain(program, { disableErrorReporting: true, teardown })
)
