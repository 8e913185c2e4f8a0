import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as DurableJobPool from "../DurableJobPool.js"
import { NoJobsError } from "../Errors.js"

/** @internal */
export const TypeId: typeof DurableJobPool.TypeId = Symbol.for(
  "@async-job/durable/DurableJobPool"
) as typeof DurableJobPool.TypeId

/** @internal */
export const tag = Context.GenericTag<DurableJobPool.DurableJobPool>("@async-job/durable/DurableJobPool")

const INT_MAX = 2 ** 31 - 1

/** @internal */
export const validate = (
  options: DurableJobPool.Options | undefined
): { readonly name: string; readonly max: number } => {
  const max = options?.maxSize ?? 0
  if (!Number.isInteger(max) || max < 0 || max > INT_MAX) {
    throw new RangeError(`maxSize must be an integer from 0 to 2^31-1, got ${max}`)
  }
  return { name: options?.name ?? "default", max }
}

/**
 * The in-process ledger: the ids of the jobs started, and which still hold a slot. Enough for
 * `WorkflowEngine.layerMemory`, whose jobs live and die with this process.
 *
 * @internal
 */
export const makeMemory = (options?: DurableJobPool.Options): Effect.Effect<DurableJobPool.DurableJobPool> =>
  Effect.sync(() => {
    const { max, name } = validate(options)
    // every job ever started, and whether it still holds its slot
    const jobs = new Map<string, boolean>()
    let held = 0
    return {
      [TypeId]: TypeId,
      name,
      maxSize: max,
      acquire: (jobId) =>
        Effect.suspend(() => {
          if (jobs.has(jobId)) return Effect.succeed(false)
          if (max > 0 && held >= max) {
            return Effect.fail(new NoJobsError({ pool: name, maxSize: max, outstanding: held }))
          }
          jobs.set(jobId, true)
          held++
          return Effect.succeed(true)
        }),
      release: (jobId) =>
        Effect.sync(() => {
          if (jobs.get(jobId) !== true) return
          jobs.set(jobId, false)
          held--
        }),
      known: (jobId) => Effect.sync(() => jobs.has(jobId)),
      outstandingIds: Effect.sync(() => Array.from(jobs).flatMap(([id, holds]) => holds ? [id] : [])),
      stats: Effect.sync(() => ({ maxSize: max, outstanding: held }))
    }
  })

/**
 * The shared ledger: one row per job started (`ended` once it gives its slot back), in the same database
 * as the workflow engine's messages, so every runner on that database sees the
 * same count. Admission is a transaction (under an advisory lock on Postgres,
 * under SQLite's write lock otherwise), so two runners cannot both take the
 * last slot.
 *
 * @internal
 */
export const makeSql = (
  options?: DurableJobPool.Options
): Effect.Effect<DurableJobPool.DurableJobPool, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const { max, name } = validate(options)
    const sql = yield* SqlClient.SqlClient
    const table = sql("async_job_durable_slots")
    // runners may start together: a lost CREATE race on Postgres is retried
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (
      pool VARCHAR(255) NOT NULL,
      job_id VARCHAR(255) NOT NULL,
      ended INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (pool, job_id)
    )`.pipe(Effect.retry({ times: 5 }), Effect.orDie)
    const lock = sql.onDialectOrElse({
      pg: () => sql`SELECT pg_advisory_xact_lock(hashtext(${`async_job_durable_slots/${name}`}))`,
      orElse: () => Effect.void
    })
    const count = Effect.map(
      sql<{ readonly n: number | string }>`SELECT count(*) AS n FROM ${table} WHERE pool = ${name} AND ended = 0`,
      (rows) => Number(rows[0]?.n ?? 0)
    )
    return {
      [TypeId]: TypeId,
      name,
      maxSize: max,
      acquire: (jobId) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* lock
          const mine = yield* sql`SELECT 1 AS one FROM ${table} WHERE pool = ${name} AND job_id = ${jobId}`
          if (mine.length > 0) return false
          if (max > 0) {
            const outstanding = yield* count
            if (outstanding >= max) return yield* new NoJobsError({ pool: name, maxSize: max, outstanding })
          }
          yield* sql`INSERT INTO ${table} (pool, job_id) VALUES (${name}, ${jobId})`
          return true
        })).pipe(Effect.catchTag("SqlError", Effect.die)),
      release: (jobId) =>
        sql`UPDATE ${table} SET ended = 1 WHERE pool = ${name} AND job_id = ${jobId}`.pipe(Effect.asVoid, Effect.orDie),
      known: (jobId) =>
        sql`SELECT 1 AS one FROM ${table} WHERE pool = ${name} AND job_id = ${jobId}`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        ),
      outstandingIds: sql<{ readonly job_id: string }>`SELECT job_id FROM ${table} WHERE pool = ${name} AND ended = 0`
        .pipe(Effect.map((rows) => rows.map((row) => row.job_id)), Effect.orDie),
      stats: Effect.map(Effect.orDie(count), (outstanding) => ({ maxSize: max, outstanding }))
    }
  })
