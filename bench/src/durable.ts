/**
 * The durable benchmark of issue 13: one durable job's start → pause → signal → resume → finish on SQLite
 * (`DurableJobPool.layerSqlite`), against a plain SQLite insert + select on the same kind of file, measured in the
 * same run and reported as a ratio.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Layer, ManagedRuntime, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Result, Settings } from "./benchmarks.js"
import { nsPerOp, row } from "./measure.js"

const Cycle = DurableJob.make({
  name: "bench/Cycle",
  payload: { id: Schema.String },
  success: Schema.Boolean,
  waits: { go: Schema.Boolean },
  jobId: ({ id }) => id
})

const CycleLive = DurableJob.toLayer(Cycle, () => DurableJob.pause(Cycle, "go"))

/** Ratios against baselines that take milliseconds: fewer iterations than the in-memory entries. */
const iterationsOf = (s: Settings) => Math.max(10, Math.round(s.iterations / 100))

export const durableCycle = async (s: Settings): Promise<Result> => {
  const dir = mkdtempSync(join(tmpdir(), "bench-durable-"))
  const durable = ManagedRuntime.make(
    Layer.provideMerge(CycleLive, DurableJobPool.layerSqlite({ filename: join(dir, "durable.db") }))
  )
  const plain = ManagedRuntime.make(SqliteClient.layer({ filename: join(dir, "plain.db") }))
  try {
    await plain.runPromise(
      Effect.flatMap(
        SqlClient.SqlClient,
        (sql) => sql`CREATE TABLE IF NOT EXISTS bench (id TEXT PRIMARY KEY, value TEXT NOT NULL)`
      )
    )
    let next = 0
    const cycle = (n: number) =>
      durable.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const paused = yield* DurableJob.start(Cycle, { id: `j${next++}` })
          if (paused._tag !== "Paused") return yield* Effect.die("expected Paused")
          yield* DurableJob.signal(paused.tokens[0]!, true)
          const finished = yield* DurableJob.resume(Cycle, paused)
          if (finished._tag !== "Finished") return yield* Effect.die("expected Finished")
        }
      }))
    const insertSelect = (n: number) =>
      plain.runPromise(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (let i = 0; i < n; i++) {
          const id = `r${next++}`
          yield* sql`INSERT INTO bench (id, value) VALUES (${id}, ${"paused"})`
          yield* sql`SELECT value FROM bench WHERE id = ${id}`
        }
      }))
    const t = await nsPerOp([
      { name: "durable-cycle-sqlite", run: cycle },
      { name: "sqlite-insert-select", run: insertSelect }
    ], { iterations: iterationsOf(s), samples: s.samples })
    const value = t.get("durable-cycle-sqlite")!.wall / 1000
    const baseline = t.get("sqlite-insert-select")!.wall / 1000
    return row("durable-cycle-sqlite", "µs", value, { "sqlite-insert-select": baseline })
  } finally {
    await durable.dispose()
    await plain.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}
