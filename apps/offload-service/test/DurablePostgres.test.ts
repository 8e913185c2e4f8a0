/**
 * Durable mode on Postgres (`DURABLE=postgres://…`), on real child processes:
 * two services on one private server are two cluster runners sharing the
 * jobs. A job posted to one (paused on an engine that never answers) is read
 * and cancelled through the other, and the first sees it cancelled. Neither
 * prints a deprecation warning, also once the first has handed shards over to
 * the second.
 */
import * as Postgres from "@async-job/test-postgres"
import * as PgClient from "@effect/sql-pg/PgClient"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import * as Crypto from "node:crypto"
import { fileURLToPath } from "node:url"
import { exited, serve } from "./utils/child.js"
import { call } from "./utils/http.js"

// the engine of this one never answers: its jobs stay paused on it
const stuckService = fileURLToPath(new URL("./fixtures/manualService.ts", import.meta.url))

/**
 * Waits until two database sessions hold shard locks (advisory locks, more than one each: the ledger's transaction
 * lock is one): the first runner has released shards, which the second then took.
 */
const shardsSplit = (url: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql<{ readonly pid: number }>`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
      GROUP BY pid HAVING count(*) > 1`.pipe(
      Effect.repeat({ until: (holders) => holders.length >= 2, schedule: Schedule.spaced("250 millis") }),
      Effect.timeoutOrElse({ duration: "60 seconds", orElse: () => Effect.fail(new Error("the shards did not split")) })
    )
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })), Effect.orDie)

/** The lines of a service's output that are deprecation warnings of node. */
const warnings = (output: string) => output.split("\n").filter((line) => line.includes("DeprecationWarning"))

describe("durable mode on Postgres", () => {
  it.live(
    "a job posted to one service is read and cancelled through another",
    () =>
      Effect.gen(function*() {
        const durable = yield* Postgres.server
        // one after the other: the first creates the cluster's tables; RUNNER_PORT unset: each picks a free port
        const a = yield* serve(stuckService, durable)
        const b = yield* serve(stuckService, durable)
        yield* shardsSplit(durable)

        const posted = yield* call(a.url, "POST", "/jobs", { op: "sha256", data: "x" })
        deepStrictEqual([posted.status, posted.body.state], [202, "paused"])
        const id: string = posted.body.id
        const read = yield* call(b.url, "GET", `/jobs/${id}`)
        deepStrictEqual([read.status, read.body], [200, { id, op: "sha256", state: "paused" }])
        const cancelled = yield* call(b.url, "DELETE", `/jobs/${id}`)
        deepStrictEqual([cancelled.status, cancelled.body], [200, { id, state: "cancelled" }])
        const seen = yield* call(a.url, "GET", `/jobs/${id}`)
        deepStrictEqual([seen.status, seen.body], [200, { id, op: "sha256", state: "cancelled" }])
        strictEqual((yield* call(b.url, "GET", `/jobs/sha256.${Crypto.randomUUID()}`)).status, 404)

        for (const service of [a, b]) service.child.kill("SIGTERM")
        deepStrictEqual(yield* Effect.forEach([a, b], (service) => exited(service.child)), [
          { code: 0, signal: null },
          { code: 0, signal: null }
        ])
        deepStrictEqual([warnings(a.output()), warnings(b.output())], [[], []])
      }),
    { timeout: 60_000 }
  )
})
