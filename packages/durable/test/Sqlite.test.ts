import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlClient from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Jobs from "./fixtures/jobs.js"
import { testDurableJobs } from "./fixtures/suite.js"
import { makeReadOnly, tempDir } from "./fixtures/tmp.js"

// the same contract in one process, on a fresh SQLite file per test
testDurableJobs("SingleRunner on SQLite", (options) =>
  Layer.unwrap(
    Effect.map(tempDir("sqlite"), (dir) =>
      DurableJobPool.layerSqlite({ ...options, filename: path.join(dir, "jobs.db") }))
  ))

describe("DurableJobPool.layerSqlite", () => {
  it.live("a job belongs to its pool: another pool on the store answers ForeignJobError; bounds are stored", () =>
    Effect.gen(function*() {
      const filename = path.join(yield* tempDir("foreign"), "jobs.db")
      const pool = (options: DurableJobPool.Options) =>
        Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ ...options, filename }))
      const stats = Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats)
      const paused = yield* DurableJob.start(Jobs.Charge, { id: "f", amount: 1 }).pipe(
        Effect.provide(pool({ name: "a", maxSize: 2 }))
      )
      strictEqual(paused._tag, "Paused")
      const [errors, statsOfB] = yield* Effect.all([
        Effect.all([
          Effect.flip(DurableJob.poll(Jobs.Charge, paused.jobId)),
          Effect.flip(DurableJob.start(Jobs.Charge, { id: "f", amount: 1 })),
          Effect.flip(DurableJob.cancel(Jobs.Charge, paused.jobId))
        ]),
        stats
      ]).pipe(Effect.provide(pool({ name: "b", maxSize: 5 })))
      deepStrictEqual(
        errors.map((error) => error._tag === "ForeignJobError" ? [error.ownerPoolId, error.poolId] : error._tag),
        errors.map(() => [1, 2])
      )
      deepStrictEqual(statsOfB, { maxSize: 5, created: 0, idle: 0, running: 0, paused: 0 })
      // a runner that does not give a bound enforces the stored one; the job is still paused in its own pool
      const [statsOfA, polled] = yield* Effect.all([stats, DurableJob.poll(Jobs.Charge, paused.jobId)]).pipe(
        Effect.provide(pool({ name: "a" }))
      )
      deepStrictEqual(statsOfA, { maxSize: 2, created: 1, idle: 0, running: 0, paused: 1 })
      deepStrictEqual(polled, paused)
    }))

  it.live("issue 25, item 7: of maxSize and setMaxSize, the later change wins", () =>
    Effect.gen(function*() {
      const filename = path.join(yield* tempDir("bound"), "jobs.db")
      const bound = (options: DurableJobPool.Options, set?: number) =>
        Effect.gen(function*() {
          const pool = yield* DurableJobPool.DurableJobPool
          if (set !== undefined) yield* pool.setMaxSize(set)
          return yield* pool.maxSize
        }).pipe(Effect.provide(DurableJobPool.layerSqlite({ ...options, filename })))
      strictEqual(yield* bound({ maxSize: 2 }), 2)
      // set at run time, then a runner restarts with the same configuration: the change made at run time stays
      strictEqual(yield* bound({ maxSize: 2 }, 5), 5)
      strictEqual(yield* bound({ maxSize: 2 }), 5)
      strictEqual(yield* bound({}), 5)
      // the configuration changes: it applies
      strictEqual(yield* bound({ maxSize: 3 }), 3)
      strictEqual(yield* bound({ maxSize: 3 }), 3)
    }))

  it.live("storage faults are typed: missing directory, corrupt file, read-only file, file deleted in use", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("faults")
      const open = (filename: string) =>
        Effect.flip(
          Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats).pipe(
            Effect.provide(DurableJobPool.layerSqlite({ filename }))
          )
        )
      const reason = (error: { readonly _tag: string; readonly reason?: string }) =>
        error._tag === "StoreError" ? error.reason : error._tag
      strictEqual(reason(yield* open(path.join(dir, "no such dir", "jobs.db"))), "missing")
      const corrupt = path.join(dir, "corrupt.db")
      fs.writeFileSync(corrupt, "this is not a database, just some text in a file\n".repeat(100))
      strictEqual(reason(yield* open(corrupt)), "corrupt")
      const readOnly = path.join(dir, "read-only.db")
      yield* DurableJob.start(Jobs.Echo, { id: "e", text: "" }).pipe(
        Effect.provide(Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ filename: readOnly })))
      )
      yield* makeReadOnly(readOnly)
      strictEqual(reason(yield* open(readOnly)), "read-only")

      // deleted while in use: every later operation fails, nothing answers from a new empty file
      const deleted = path.join(dir, "deleted.db")
      const errors = yield* Effect.gen(function*() {
        const paused = yield* DurableJob.start(Jobs.Charge, { id: "d", amount: 1 })
        if (paused._tag !== "Paused") return yield* Effect.die("expected Paused")
        fs.rmSync(deleted)
        return yield* Effect.all([
          Effect.flip(DurableJob.poll(Jobs.Charge, paused.jobId)),
          Effect.flip(DurableJob.signal(paused.tokens[0]!, true)),
          Effect.flip(DurableJob.start(Jobs.Charge, { id: "d2", amount: 1 })),
          Effect.flip(Effect.flatMap(DurableJobPool.DurableJobPool, (pool) => pool.stats))
        ])
      }).pipe(
        Effect.provide(Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ filename: deleted })))
      )
      deepStrictEqual(errors.map(reason), errors.map(() => "replaced"))
    }))

  it.live("a store created before replays were checked gains the column of divergences as it opens", () =>
    Effect.gen(function*() {
      const filename = path.join(yield* tempDir("older"), "jobs.db")
      // the ledger as the release before divergence detection created it
      yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql`CREATE TABLE async_job_durable_jobs (
          job_id VARCHAR(255) PRIMARY KEY, pool VARCHAR(255) NOT NULL, pool_id INTEGER NOT NULL,
          kind VARCHAR(255) NOT NULL, seq INTEGER NOT NULL, version INTEGER NOT NULL, state VARCHAR(16) NOT NULL,
          tokens TEXT NOT NULL, payload TEXT NOT NULL, exit TEXT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL
        )`).pipe(Effect.provide(SqliteClient.layer({ filename })))
      const step = yield* DurableJob.start(Jobs.Echo, { id: "e", text: "hi" }).pipe(
        Effect.provide(Layer.provideMerge(Jobs.layer(() => {}), DurableJobPool.layerSqlite({ filename })))
      )
      strictEqual(step._tag === "Finished" && step.value, "hi")
    }))

  it.live("a job's input is kept once; purge with keep and engine forgets the other ended jobs in the engine too", () =>
    Effect.gen(function*() {
      const filename = path.join(yield* tempDir("once"), "jobs.db")
      const events: Array<string> = []
      const text = "x".repeat(10_000)
      const store = Layer.provideMerge(
        Jobs.layer((event) => events.push(event)),
        DurableJobPool.layerSqlite({ filename })
      )
      const [ids, purged, polled] = yield* Effect.gen(function*() {
        const ids: Array<string> = []
        for (const id of ["a", "b", "c"]) {
          ids.push((yield* DurableJob.start(Jobs.Echo, { id, text })).jobId)
          // the jobs end in this order, a clock tick apart
          yield* Effect.sleep("5 millis")
        }
        const pool = yield* DurableJobPool.DurableJobPool
        const purged = yield* pool.purge("1 hour", { keep: 1, engine: true })
        const polled = yield* Effect.forEach(
          ids,
          (id) =>
            Effect.match(DurableJob.poll(Jobs.Echo, id), { onFailure: (error) => error._tag, onSuccess: (s) => s._tag })
        )
        // the engine forgot "a": started again, it runs again; "c" is still journaled there and runs nothing
        yield* DurableJob.start(Jobs.Echo, { id: "a", text })
        yield* DurableJob.start(Jobs.Echo, { id: "c", text })
        return [ids, purged, polled] as const
      }).pipe(Effect.provide(store))
      strictEqual(purged, 2)
      deepStrictEqual(polled, ["JobNotFoundError", "JobNotFoundError", "Finished"])
      deepStrictEqual(events, ["echo a", "echo b", "echo c", "echo a"])
      const [payloads, messages] = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
        Effect.all([
          sql<{ readonly payload: string }>`SELECT payload FROM async_job_durable_jobs ORDER BY seq`,
          sql<{ readonly entity_id: string; readonly n: number }>`SELECT entity_id, count(*) AS n
            FROM cluster_messages GROUP BY entity_id`
        ])).pipe(Effect.provide(SqliteClient.layer({ filename })))
      // the ledger keeps no copy of a started job's payload: the engine's message holds it
      deepStrictEqual(payloads.map((row) => row.payload), ["null", "null"])
      deepStrictEqual(messages.map((row) => row.entity_id).sort(), [ids[0]!, ids[2]!].sort())
    }))
})
