/**
 * The README's command, `pnpm start`, as an operator runs it: SIGTERM or
 * SIGINT to the process it starts stops the service (the port closes, no
 * process is left), and a port already in use is one line and a non-zero exit.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as Service from "../src/loadgen/Service.js"
import { connectionRefused } from "./utils/http.js"
import { healthy, isAlive, operatorPath, spawn } from "./utils/processes.js"

const root = fileURLToPath(new URL("../../..", import.meta.url))
const host = "127.0.0.1"

/** `pnpm start` in the repository's root; on scope close, SIGKILLs it and whatever it started, if still there. */
const pnpmStart = (port: number | string, env: Record<string, string> = {}) =>
  spawn("pnpm", ["start"], {
    cwd: root,
    env: { PATH: operatorPath, PORT: String(port), HOST: host, ENGINE_THREADS: "1", ...env }
  })

describe("pnpm start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`${signal} to the process pnpm start started stops the service: port closed, no process left`, () =>
      Effect.gen(function*() {
        const port = yield* Service.freePort(host)
        const start = yield* pnpmStart(port)
        const url = `http://${host}:${port}`
        yield* healthy(url, () => start.child.exitCode === null).pipe(
          Effect.catch(() => Effect.die(new Error(`the service did not start:\n${start.output()}`)))
        )
        const started = start.record()
        assertTrue(started.length >= 1)

        start.child.kill(signal)
        const exit = yield* start.exited

        deepStrictEqual(exit, { code: 0, signal: null })
        assertTrue(yield* connectionRefused(host, port))
        // the service (and anything else pnpm started) exits too; poll, it may take a moment after pnpm
        yield* Effect.repeat(Effect.sync(() => started.filter(isAlive)), {
          schedule: Schedule.spaced("50 millis"),
          until: (alive) => alive.length === 0
        })
        assertFalse(isAlive(start.child.pid!))
      }).pipe(Effect.scoped))
  }

  it.live("a port already in use: one line of output, exit code 1", () =>
    Effect.gen(function*() {
      const port = yield* Service.freePort(host)
      const holder = yield* Effect.acquireRelease(
        Effect.callback<Net.Server>((resume) => {
          const server = Net.createServer()
          server.listen(port, host, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      assertTrue(holder.listening)
      const start = yield* pnpmStart(port)
      const exit = yield* start.exited
      deepStrictEqual(exit, { code: 1, signal: null })
      // the service's own output, without pnpm's (its "> script" banner before, its ELIFECYCLE line after)
      const own = start.output().split("\n").filter((line) =>
        line.trim() !== "" && !line.startsWith("> ") && !line.includes("ELIFECYCLE")
      )
      deepStrictEqual(own, [`error: ${host}:${port} is already in use`])
      strictEqual(start.record().filter(isAlive).length, 0)
    }).pipe(Effect.scoped))

  it.live("a bad setting: one line naming it, exit code 1", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [number | string, Record<string, string>, string]> = [
        ["abc", {}, `error: bad setting: Expected a string representing a finite number at ["PORT"]`],
        [
          0,
          { DURABLE: "mysql://x" },
          `error: bad setting: DURABLE must be sqlite:<file> or postgres://…, got "mysql://x"`
        ]
      ]
      for (const [port, env, line] of cases) {
        const start = yield* pnpmStart(port, env)
        deepStrictEqual(yield* start.exited, { code: 1, signal: null })
        const own = start.output().split("\n").filter((text) =>
          text.trim() !== "" && !text.startsWith("> ") && !text.includes("ELIFECYCLE")
        )
        deepStrictEqual(own, [line])
      }
    }).pipe(Effect.scoped))
})
