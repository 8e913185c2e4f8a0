/**
 * What an operator and a client do to the whole process (issue 24, items 2
 * and 5), on real child processes on free loopback ports, bounded in count
 * and stopping by themselves.
 */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as Service from "../src/loadgen/Service.js"
import { call, connectionRefused, pollUntil } from "./utils/http.js"
import { healthy, operatorPath, rssBytes, spawn } from "./utils/processes.js"

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
const root = fileURLToPath(new URL("../../..", import.meta.url))
const manualEntry = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))
const host = "127.0.0.1"
const mib = 1024 * 1024

describe("2. memory bounded by bytes", () => {
  it.live(
    "400 × 1 MiB jobs left paused, under --max-old-space-size=256: 503 Overloaded past MAX_QUEUED_BYTES, no out-of-memory, RSS under 640 MiB",
    () =>
      Effect.gen(function*() {
        const port = yield* Service.freePort(host)
        const service = yield* spawn(
          process.execPath,
          ["--max-old-space-size=256", "--import", tsx, manualEntry],
          { env: { PORT: String(port), HOST: host } }
        )
        const url = `http://${host}:${port}`
        yield* healthy(url, () => service.child.exitCode === null)
        const body = JSON.stringify({ op: "sha256", data: "x".repeat(mib) })
        const statuses: Array<number> = []
        let peak = 0
        const one = Effect.tryPromise(() =>
          fetch(`${url}/jobs`, { method: "POST", body, headers: { "content-type": "application/json" } }).then(
            async (response) => {
              await response.arrayBuffer()
              return response.status
            }
          )
        ).pipe(
          Effect.map((status) => {
            statuses.push(status)
            if (service.child.exitCode === null) peak = Math.max(peak, rssBytes(service.child.pid!))
          }),
          // a connection the dying service reset is counted as no answer
          Effect.catch(() => Effect.sync(() => statuses.push(0)))
        )
        yield* Effect.forEach(Array.from({ length: 400 }), () => one, { concurrency: 16, discard: true })
        strictEqual(service.child.exitCode, null, service.output().slice(-2000))
        strictEqual(statuses.filter((status) => status === 0).length, 0)
        assertTrue(statuses.includes(503))
        assertTrue(statuses.filter((status) => status === 202).length >= 16)
        assertTrue(peak < 640 * mib, `peak RSS ${(peak / mib).toFixed(0)} MiB`)
        strictEqual((yield* Effect.promise(() => fetch(`${url}/healthz`))).status, 200)
      }).pipe(Effect.scoped),
    { timeout: 240_000 }
  )
})

describe("5. signals, however many", () => {
  it.live("two SIGTERMs to pnpm start: when pnpm has exited, the port is already closed", () =>
    Effect.gen(function*() {
      const port = yield* Service.freePort(host)
      const pnpm = yield* spawn(
        "pnpm",
        ["start"],
        {
          env: { PATH: operatorPath, PORT: String(port), HOST: host, ENGINE_THREADS: "1", SHUTDOWN_GRACE: "30" },
          cwd: root
        }
      )
      const url = `http://${host}:${port}`
      yield* healthy(url, () => pnpm.child.exitCode === null)
      pnpm.record()
      // outstanding jobs keep the service in its grace period for a while
      for (let i = 0; i < 4; i++) {
        yield* Effect.promise(() =>
          fetch(`${url}/jobs`, {
            method: "POST",
            body: JSON.stringify({ op: "scrypt", password: "p", salt: "s", N: 65536 }),
            headers: { "content-type": "application/json" }
          })
        )
      }
      pnpm.child.kill("SIGTERM")
      yield* Effect.sleep("200 millis")
      pnpm.child.kill("SIGTERM")
      yield* pnpm.exited
      assertTrue(yield* connectionRefused(host, port))
    }).pipe(Effect.scoped))

  it.live("a second SIGTERM cuts the grace short: the jobs left are cancelled at once and the process exits 0", () =>
    Effect.gen(function*() {
      const port = yield* Service.freePort(host)
      // the engine never answers: without the second signal the jobs would hold the grace for ten minutes
      const service = yield* spawn(
        process.execPath,
        ["--import", tsx, manualEntry],
        { env: { PORT: String(port), HOST: host, SHUTDOWN_GRACE: "10 minutes" } }
      )
      const url = `http://${host}:${port}`
      yield* healthy(url, () => service.child.exitCode === null)
      for (let i = 0; i < 2; i++) {
        const status = yield* Effect.promise(() =>
          fetch(`${url}/jobs`, {
            method: "POST",
            body: JSON.stringify({ op: "sha256", data: `job ${i}` }),
            headers: { "content-type": "application/json" }
          }).then((response) => response.status)
        )
        strictEqual(status, 202)
      }
      service.child.kill("SIGTERM")
      yield* pollUntil(Effect.sync(() => service.output()), (out) => out.includes("shutting down"))
      service.child.kill("SIGTERM")
      const exit = yield* service.exited
      strictEqual(exit.code, 0, service.output())
      assertTrue(service.output().includes("cancelled 2 outstanding jobs"), service.output())
      assertTrue(service.output().includes("engine: 2 cancelled, 0 pending"), service.output())
    }).pipe(Effect.scoped))

  it.live(
    "200 ?wait=true scrypt clients when the grace ends: each gets its job's end or a 503, none a reset",
    () =>
      Effect.gen(function*() {
        const port = yield* Service.freePort(host)
        const service = yield* spawn(
          process.execPath,
          ["--import", tsx, fileURLToPath(new URL("../src/main.ts", import.meta.url))],
          { env: { PORT: String(port), HOST: host, ENGINE_THREADS: "1", SHUTDOWN_GRACE: "0.2" } }
        )
        const url = `http://${host}:${port}`
        yield* healthy(url, () => service.child.exitCode === null)
        const body = JSON.stringify({ op: "scrypt", password: "p", salt: "s", N: 16384 })
        const answers = Array.from({ length: 200 }, () =>
          fetch(`${url}/jobs?wait=true`, { method: "POST", body, headers: { "content-type": "application/json" } })
            .then(async (response) => {
              const text = await response.text()
              return response.status === 200 ? `200 ${JSON.parse(text).state}` : `${response.status}`
            }, (error: unknown) =>
              `no answer: ${String(error)}`))
        // every job accepted (most wait for the one engine thread), then the signal
        const jobsSeen = Effect.map(call(url, "GET", "/stats"), ({ body }) =>
          body.running + body.paused + body.finished + body.failed + body.cancelled)
        yield* pollUntil(jobsSeen, (jobs) =>
          jobs >= 200)
        service.child.kill("SIGTERM")
        const outcomes = yield* Effect.promise(() =>
          Promise.all(answers)
        )
        const counts = new Map<string, number>()
        for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1)
        const allowed = ["200 finished", "200 cancelled", "503"]
        deepStrictEqual(
          Array.from(counts.keys()).filter((outcome) => !allowed.includes(outcome)),
          [],
          String([...counts])
        )
        assertTrue((counts.get("200 cancelled") ?? 0) > 0, String([...counts]))
        strictEqual((yield* service.exited).code, 0, service.output())
      }).pipe(Effect.scoped),
    { timeout: 180_000 }
  )
})
