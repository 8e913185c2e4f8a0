/**
 * The durable benchmarks (issues 13 and 25), each against the bare database work it is built on, measured in the
 * same run on the same kind of store and reported as a ratio:
 *
 * - `durable-cycle-sqlite`: one durable job's start → pause → signal → resume → finish on SQLite
 *   (`DurableJobPool.layerSqlite`), against a plain SQLite insert + select on a file of the same kind
 *   (`sqlite-insert-select`, the same client and settings);
 * - `durable-throughput-sqlite`: jobs started and finished (no pause) per second with 64 in flight, against
 *   insert + select pairs per second with 64 in flight (`sqlite-insert-select-64`);
 * - `durable-cycle-postgres` and `durable-throughput-postgres`: the same on Postgres (a runner of
 *   `DurableJobPool.layerCluster` in this process, over a private server started for the entry with
 *   `@async-job/test-postgres`, as the tests do), against `pg-insert-select` and `pg-insert-select-64` on the same
 *   server through the same client.
 *
 * A throughput's ratio is the entry's rate over the baseline's (below 1: the fraction of the bare database's rate).
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import * as Postgres from "@async-job/test-postgres"
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Exit, Layer, ManagedRuntime, Option, Redacted, Schema, Scope } from "effect"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as SqlClient from "effect/sql/SqlClient"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Result, Settings } from "./benchmarks.js"
import { median, nsPerOp, row } from "./measure.js"

const Cycle = DurableJob.make({
  name: "bench/Cycle",
  payload: { id: Schema.String },
  success: Schema.Boolean,
  waits: { go: Schema.Boolean },
  jobId: ({ id }) => id
})

/** Finishes in its start: the job of the throughput entries. */
const Quick = DurableJob.make({
  name: "bench/Quick",
  payload: { id: Schema.String },
  success: Schema.Boolean,
  jobId: ({ id }) => id
})

const JobsLive = Layer.mergeAll(
  DurableJob.toLayer(Cycle, () => DurableJob.pause(Cycle, "go")),
  DurableJob.toLayer(Quick, () => Effect.succeed(true))
)

/** Ratios against baselines that take milliseconds: fewer iterations than the in-memory entries. */
const iterationsOf = (s: Settings) => Math.max(10, Math.round(s.iterations / 100))

/** Jobs in flight at once in the throughput entries. */
const IN_FLIGHT = 64

type Durable = ManagedRuntime.ManagedRuntime<DurableJobPool.DurableJobPool | WorkflowEngine, unknown>
type Plain = ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown>

let next = 0

/** `n` cycles: start → pause → signal → resume → finish. */
const cycles = (durable: Durable) => (n: number) =>
  durable.runPromise(Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const paused = yield* DurableJob.start(Cycle, { id: `c${next++}` })
      if (paused._tag !== "Paused") return yield* Effect.die("expected Paused")
      yield* DurableJob.signal(paused.tokens[0]!, true)
      const finished = yield* DurableJob.resume(Cycle, paused)
      if (finished._tag !== "Finished") return yield* Effect.die("expected Finished")
    }
  }))

/** `n` insert + select pairs on the bare client. */
const insertSelect = (plain: Plain) => (n: number) =>
  plain.runPromise(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < n; i++) yield* insertSelectOnce(sql)
  }))

const insertSelectOnce = (sql: SqlClient.SqlClient) =>
  Effect.gen(function*() {
    const id = `r${next++}`
    yield* sql`INSERT INTO bench (id, value) VALUES (${id}, ${"paused"})`
    yield* sql`SELECT value FROM bench WHERE id = ${id}`
  })

const createTable = (plain: Plain) =>
  plain.runPromise(
    Effect.flatMap(
      SqlClient.SqlClient,
      (sql) => sql`CREATE TABLE IF NOT EXISTS bench (id VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)`
    )
  )

/** Operations per second of `operation`, `total` times with `IN_FLIGHT` at once; the median of `samples` rounds. */
const perSecond = async (
  candidates: ReadonlyArray<{ readonly name: string; readonly run: (total: number) => Promise<void> }>,
  options: { readonly total: number; readonly samples: number }
): Promise<Map<string, number>> => {
  const rates = new Map<string, Array<number>>(candidates.map((c) => [c.name, []]))
  for (const candidate of candidates) await candidate.run(IN_FLIGHT) // warm-up
  for (let round = 0; round < options.samples; round++) {
    for (const candidate of candidates) {
      const start = performance.now()
      await candidate.run(options.total)
      rates.get(candidate.name)!.push(options.total / ((performance.now() - start) / 1000))
    }
  }
  return new Map(Array.from(rates, ([name, values]) => [name, median(values)]))
}

/** `total` operations, `IN_FLIGHT` at a time (each worker takes the next until all are done). */
const inFlight = (total: number, once: Effect.Effect<void, unknown, never>) =>
  Effect.gen(function*() {
    let left = total
    const worker = Effect.gen(function*() {
      while (left > 0) {
        left--
        yield* once
      }
    })
    yield* Effect.all(Array.from({ length: IN_FLIGHT }, () => worker), { concurrency: "unbounded", discard: true })
  })

const quickJobs = (durable: Durable) => (total: number) =>
  durable.runPromise(
    Effect.flatMap(Effect.context<DurableJobPool.DurableJobPool | WorkflowEngine>(), (context) =>
      inFlight(
        total,
        DurableJob.start(Quick, { id: `q${next++}` }).pipe(
          Effect.flatMap((step) => step._tag === "Finished" ? Effect.void : Effect.die("expected Finished")),
          Effect.provideContext(context)
        )
      ))
  )

const insertSelectInFlight = (plain: Plain) => (total: number) =>
  plain.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => inFlight(total, insertSelectOnce(sql))))

/** The throughput rounds: about as many jobs as the cycle entries' operations, in whole rounds of `IN_FLIGHT`. */
const throughputOf = (s: Settings) => ({
  total: IN_FLIGHT * Math.max(2, Math.round(iterationsOf(s) / 8)),
  samples: s.samples
})

// ---------------------------------------------------------------------------- SQLite

const withSqlite = async <A>(use: (durable: Durable, plain: Plain) => Promise<A>): Promise<A> => {
  const dir = mkdtempSync(join(tmpdir(), "bench-durable-"))
  const durable: Durable = ManagedRuntime.make(
    Layer.provideMerge(JobsLive, DurableJobPool.layerSqlite({ filename: join(dir, "durable.db") }))
  )
  const plain: Plain = ManagedRuntime.make(SqliteClient.layer({ filename: join(dir, "plain.db") }))
  try {
    await createTable(plain)
    return await use(durable, plain)
  } finally {
    await durable.dispose()
    await plain.dispose()
    rmSync(dir, { recursive: true, force: true })
  }
}

export const durableCycle = (s: Settings): Promise<Result> =>
  withSqlite(async (durable, plain) => {
    const t = await nsPerOp([
      { name: "durable-cycle-sqlite", run: cycles(durable) },
      { name: "sqlite-insert-select", run: insertSelect(plain) }
    ], { iterations: iterationsOf(s), samples: s.samples })
    return row("durable-cycle-sqlite", "µs", t.get("durable-cycle-sqlite")!.wall / 1000, {
      "sqlite-insert-select": t.get("sqlite-insert-select")!.wall / 1000
    })
  })

export const durableThroughputSqlite = (s: Settings): Promise<Result> =>
  withSqlite(async (durable, plain) => {
    const rates = await perSecond([
      { name: "durable-throughput-sqlite", run: quickJobs(durable) },
      { name: "sqlite-insert-select-64", run: insertSelectInFlight(plain) }
    ], throughputOf(s))
    return row("durable-throughput-sqlite", "jobs/s", rates.get("durable-throughput-sqlite")!, {
      "sqlite-insert-select-64": rates.get("sqlite-insert-select-64")!
    })
  })

// ---------------------------------------------------------------------------- Postgres

/** A runner over the server at `url`, as the README sets one up (a socket runner with its storage on Postgres). */
const runnerOn = (url: string) =>
  Layer.unwrap(Effect.map(Postgres.freePort, (port) => {
    const shardingConfig = { runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)) }
    return Layer.provideMerge(JobsLive, DurableJobPool.layerCluster()).pipe(
      Layer.provide(NodeClusterSocket.layer({ storage: "byo", shardingConfig })),
      Layer.provide(DurableJobPool.layerClusterStorage(shardingConfig)),
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(url) }))
    )
  }))

export const durablePostgres = async (s: Settings): Promise<ReadonlyArray<Result>> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const server = await Effect.runPromise(Scope.provide(Postgres.make, scope))
    const durable: Durable = ManagedRuntime.make(runnerOn(server.url))
    const plain: Plain = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(server.url) }))
    try {
      await createTable(plain)
      const t = await nsPerOp([
        { name: "durable-cycle-postgres", run: cycles(durable) },
        { name: "pg-insert-select", run: insertSelect(plain) }
      ], { iterations: iterationsOf(s), samples: s.samples })
      const rates = await perSecond([
        { name: "durable-throughput-postgres", run: quickJobs(durable) },
        { name: "pg-insert-select-64", run: insertSelectInFlight(plain) }
      ], throughputOf(s))
      return [
        row("durable-cycle-postgres", "µs", t.get("durable-cycle-postgres")!.wall / 1000, {
          "pg-insert-select": t.get("pg-insert-select")!.wall / 1000
        }),
        row("durable-throughput-postgres", "jobs/s", rates.get("durable-throughput-postgres")!, {
          "pg-insert-select-64": rates.get("pg-insert-select-64")!
        })
      ]
    } finally {
      await durable.dispose()
      await plain.dispose()
    }
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}
