/**
 * Durable mode on Postgres (`DURABLE=postgres://…`), on real child processes:
 * two services on one private server are two cluster runners sharing the
 * jobs. A job posted to one (paused on an engine that never answers) is read
 * and cancelled through the other, and the first sees it cancelled.
 */
import * as Postgres from "@async-job/test-postgres"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import { fileURLToPath } from "node:url"
import { exited, serve } from "./utils/child.js"
import { call } from "./utils/http.js"

// the engine of this one never answers: its jobs stay paused on it
const stuckService = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))

describe("durable mode on Postgres", () => {
  it.scopedLive(
    "a job posted to one service is read and cancelled through another",
    () =>
      Effect.gen(function*() {
        const durable = yield* Postgres.server
        // one after the other: the first creates the cluster's tables; RUNNER_PORT unset: each picks a free port
        const a = yield* serve(stuckService, durable)
        const b = yield* serve(stuckService, durable)

        const posted = yield* call(a.url, "POST", "/jobs", { op: "sha256", data: "x" })
        deepStrictEqual([posted.status, posted.body.state], [202, "paused"])
        const id: string = posted.body.id
        const read = yield* call(b.url, "GET", `/jobs/${id}`)
        deepStrictEqual([read.status, read.body], [200, { id, op: "sha256", state: "paused" }])
        const cancelled = yield* call(b.url, "DELETE", `/jobs/${id}`)
        deepStrictEqual([cancelled.status, cancelled.body], [200, { id, state: "cancelled" }])
        const seen = yield* call(a.url, "GET", `/jobs/${id}`)
        deepStrictEqual([seen.status, seen.body], [200, { id, op: "sha256", state: "cancelled" }])
        strictEqual((yield* call(b.url, "GET", "/jobs/sha256.unknown")).status, 404)

        for (const service of [a, b]) service.child.kill("SIGTERM")
        deepStrictEqual(yield* Effect.forEach([a, b], (service) => exited(service.child)), [
          { code: 0, signal: null },
          { code: 0, signal: null }
        ])
      }),
    { timeout: 60_000 }
  )
})
