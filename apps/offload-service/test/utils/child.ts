/**
 * Service child processes for the durable-mode tests.
 */
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import * as Service from "../../src/loadgen/Service.js"

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const host = "127.0.0.1"

/** Resolves with how the child exited (at once if it already has). */
export const exited = (child: ChildProcess.ChildProcess) =>
  Effect.callback<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
    }
    child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
  })

/**
 * The service `entry` with `DURABLE=durable` on a free port, healthy; SIGKILLed and awaited when the scope closes.
 * `output` answers what it printed so far (stdout and stderr).
 */
export const serve = (entry: string, durable: string) =>
  Effect.gen(function*() {
    const port = yield* Service.freePort(host)
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(process.execPath, ["--import", tsx, entry], {
          env: { ...process.env, DURABLE: durable, PORT: String(port), HOST: host },
          stdio: ["ignore", "pipe", "pipe"]
        })
        child.stdout!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        child.stderr!.on("data", (chunk: Buffer) => output += chunk.toString("utf8"))
        return child
      }),
      (child) => Effect.asVoid(Effect.andThen(Effect.sync(() => child.kill("SIGKILL")), exited(child)))
    )
    const url = `http://${host}:${port}`
    // each probe is bounded: the port listens a moment before the routes are served, and a request in that
    // moment gets no answer
    yield* Effect.tryPromise((signal) => fetch(`${url}/healthz`, { signal })).pipe(
      Effect.timeout("2 seconds"),
      Effect.filterOrFail((response) => response.status === 200),
      Effect.retry({ schedule: Schedule.spaced("100 millis"), while: () => child.exitCode === null }),
      Effect.catch(() => Effect.die(new Error(`the service did not start:\n${output}`)))
    )
    return { child, url, output: () => output }
  })
