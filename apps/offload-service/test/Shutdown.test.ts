/**
 * SIGTERM with paused jobs, on real child processes: the service exits 0,
 * having cancelled its jobs and cleaned their wait fds, and leaves nothing
 * open (the process is gone, its port refuses connections).
 */
import { describe, expect, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Service from "../src/loadgen/Service.js"
import { call, connectionRefused, pollUntil } from "./utils/http.js"
import { isAlive } from "./utils/processes.js"

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const mainEntry = fileURLToPath(new URL("../src/main.ts", import.meta.url))
const manualEntry = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))

const host = "127.0.0.1"

interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly port: number
  readonly url: string
  readonly output: () => string
  /** completes with the exit code and signal */
  readonly exited: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Starts an entry on a free port and waits for /healthz; kills it (SIGKILL) with the scope if it still runs. */
const startChild = (entry: string, env: Record<string, string>) =>
  Effect.gen(function*() {
    const port = yield* Service.freePort(host)
    const chunks: Array<string> = []
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, ["--import", tsxLoader, entry], {
          env: { ...process.env, ...env, PORT: String(port), HOST: host },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        })
    )
    child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
    child.stderr!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
    const exited = Effect.callback<{ code: number | null; signal: NodeJS.Signals | null }>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
      }
      child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
    })
    const url = `http://${host}:${port}`
    // poll until healthy (not a timing assertion: it waits as long as the service needs)
    yield* Effect.tryPromise(() => fetch(`${url}/healthz`)).pipe(
      Effect.filterOrFail((response) => response.status === 200),
      Effect.retry({
        schedule: Schedule.spaced("100 millis"),
        while: () => child.exitCode === null && child.signalCode === null
      }),
      Effect.catch(() => Effect.die(new Error(`the service did not start:\n${chunks.join("")}`)))
    )
    return { process: child, port, url, output: () => chunks.join(""), exited } satisfies Child
  })

const postPaused = (url: string, body: object, count: number) =>
  Effect.forEach(Array.from({ length: count }), () =>
    Effect.map(call(url, "POST", "/jobs", body), (reply) => {
      strictEqual(reply.status, 202)
      return reply.body.state as string
    }))

describe("SIGTERM with paused jobs", () => {
  it.live("the service cancels them, cleans their wait fds, stops, and exits 0", () =>
    Effect.gen(function*() {
      const child = yield* startChild(manualEntry, { SHUTDOWN_GRACE: "0" })
      const states = yield* postPaused(child.url, { op: "sha256", data: "abc" }, 3)
      deepStrictEqual(states, ["paused", "paused", "paused"])
      strictEqual((yield* call(child.url, "GET", "/stats")).body.paused, 3)

      child.process.kill("SIGTERM")
      const exit = yield* child.exited

      deepStrictEqual(exit, { code: 0, signal: null })
      const lines = child.output().split("\n")
      // in this order: stop accepting, cancel (3 jobs, 3 fd cleanups), engine saw 3 cancellations, stopped
      const expected = [
        "shutting down: no more jobs",
        "cancelled 3 outstanding jobs; 3 wait fd cleanups ran in all",
        "engine: 3 cancelled, 0 pending",
        "stopped"
      ]
      deepStrictEqual(lines.filter((line) => expected.includes(line)), expected)
      assertFalse(isAlive(child.process.pid!))
      assertTrue(yield* connectionRefused(host, child.port))
    }).pipe(Effect.scoped))

  it.live("SHUTDOWN_GRACE: paused jobs that do not end in time are cancelled when it runs out; exit 0", () =>
    Effect.gen(function*() {
      const child = yield* startChild(manualEntry, { SHUTDOWN_GRACE: "0.5" })
      yield* postPaused(child.url, { op: "sha256", data: "abc" }, 2)
      const waiting = yield* Effect.forkChild(call(child.url, "POST", "/jobs?wait=true", { op: "sha256", data: "abc" }))
      yield* pollUntil(call(child.url, "GET", "/stats"), (reply) => reply.body.paused === 3)

      child.process.kill("SIGTERM")
      const reply = yield* Fiber.join(waiting)
      const exit = yield* child.exited

      deepStrictEqual(exit, { code: 0, signal: null })
      // the waiting client got its job's end: cancelled, not a reset
      deepStrictEqual([reply.status, reply.body.state], [200, "cancelled"])
      const lines = child.output().split("\n")
      assertTrue(lines.includes("cancelled 3 outstanding jobs; 3 wait fd cleanups ran in all"))
      assertTrue(yield* connectionRefused(host, child.port))
    }).pipe(Effect.scoped))

  it.live("SHUTDOWN_GRACE: running jobs finish within it (a waiting client gets the result), none cancelled", () =>
    Effect.gen(function*() {
      const child = yield* startChild(mainEntry, { ENGINE_THREADS: "1", SHUTDOWN_GRACE: "120" })
      const scrypt = { op: "scrypt", password: "p", salt: "s", N: 16384 }
      yield* postPaused(child.url, scrypt, 2)
      const waiting = yield* Effect.forkChild(call(child.url, "POST", "/jobs?wait=true", scrypt))
      yield* pollUntil(call(child.url, "GET", "/stats"), (reply) => reply.body.created >= 3)

      child.process.kill("SIGTERM")
      const reply = yield* Fiber.join(waiting)
      const exit = yield* child.exited

      deepStrictEqual(exit, { code: 0, signal: null })
      deepStrictEqual([reply.status, reply.body.state], [200, "finished"])
      expect(child.output()).toMatch(/^cancelled 0 outstanding jobs; 3 wait fd cleanups ran in all$/m)
      assertTrue(yield* connectionRefused(host, child.port))
    }).pipe(Effect.scoped))

  it.live("pnpm start's entry (src/main.ts, worker-thread engine) stops its threads and exits 0", () =>
    Effect.gen(function*() {
      const child = yield* startChild(mainEntry, { ENGINE_THREADS: "1" })
      yield* postPaused(child.url, { op: "scrypt", password: "p", salt: "s", N: 65536 }, 3)

      child.process.kill("SIGTERM")
      const exit = yield* child.exited

      deepStrictEqual(exit, { code: 0, signal: null })
      const output = child.output()
      expect(output).toContain(`async-job offload service listening on ${child.url}`)
      expect(output).toMatch(/^cancelled \d outstanding jobs; 3 wait fd cleanups ran in all$/m)
      expect(output).toMatch(/\nstopped\n$/)
      assertFalse(isAlive(child.process.pid!))
      assertTrue(yield* connectionRefused(host, child.port))
    }).pipe(Effect.scoped))
})
