import type { PoolStats } from "@async-job/core/Errors"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Clock from "effect/Clock"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as EntityAddress from "effect/cluster/EntityAddress"
import * as EntityId from "effect/cluster/EntityId"
import * as EntityType from "effect/cluster/EntityType"
import * as MessageStorage from "effect/cluster/MessageStorage"
import * as Sharding from "effect/cluster/Sharding"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type * as DurableJob from "../DurableJob.js"
import type * as DurableJobPool from "../DurableJobPool.js"
import type { JournalStep } from "../Errors.js"
import { ForeignJobError, JobKindError, NoJobsError, StoreError } from "../Errors.js"

/** @internal */
export const TypeId: typeof DurableJobPool.TypeId = Symbol.for(
  "@async-job/durable/DurableJobPool"
) as typeof DurableJobPool.TypeId

/** @internal */
export const tag = Context.Service<DurableJobPool.DurableJobPool>("@async-job/durable/DurableJobPool")

const INT_MAX = 2 ** 31 - 1

/** @internal */
export const validate = (
  options: DurableJobPool.Options | undefined
): { readonly name: string; readonly max: number | undefined } => {
  const max = options?.maxSize
  if (max !== undefined && (!Number.isInteger(max) || max < 0 || max > INT_MAX)) {
    throw new RangeError(`maxSize must be an integer from 0 to 2^31-1, got ${max}`)
  }
  const retained = options?.maxRetained
  if (retained !== undefined && (!Number.isInteger(retained) || retained < 0)) {
    throw new RangeError(`maxRetained must be a non-negative integer, got ${retained}`)
  }
  return { name: options?.name ?? "default", max }
}

/**
 * Where a job is in the ledger. `starting`: its slot is taken and its workflow may not have been sent yet.
 * `diverged`: a replay of its journal diverged; it is suspended, holding its slot.
 */
export type State = "starting" | "running" | "paused" | "diverged" | "ended"

/**
 * One job in the ledger: its slot, its kind, and its state as its runs
 * journal it (the tokens of its current pause, its encoded exit once ended).
 *
 * @internal
 */
export interface Row {
  readonly jobId: string
  readonly pool: string
  /** The number of the pool that owns the job. */
  readonly poolId: number
  readonly kind: string
  readonly seq: number
  /** The version of the job's code it was started under. */
  readonly version: number
  readonly state: State
  readonly tokens: ReadonlyArray<string>
  /** The payload, encoded by the job's Schema, while the job is `starting` (to complete a start cut short). */
  readonly payload: unknown
  /** The exit, encoded by the job's Schemas, once ended. */
  readonly exit: unknown
  /** How a replay diverged from the journal (the fields of `JobDivergedError` but `jobId`), once `diverged`. */
  readonly diverged: unknown
  readonly createdAt: number
  readonly updatedAt: number
}

/**
 * The pool service as the implementation sees it: the public interface plus
 * the ledger and the registry of definitions.
 *
 * @internal
 */
export interface Ledger extends DurableJobPool.DurableJobPool {
  /** The key that signs resume tokens. */
  readonly secret: string
  /** The definitions this process knows, by name (the registry is this layer's value). */
  readonly definitions: Map<string, DurableJob.Any>
  /** The latest run of each job in this process (its `WorkflowInstance`), until the run's scope closes. */
  readonly lastRun: Map<string, object>
  /**
   * Takes a slot for `jobId` and records its kind and payload (state
   * `starting`), or answers the job's row if it exists; fails with
   * `NoJobsError` when the pool is full. One transaction.
   */
  readonly admit: (
    jobId: string,
    kind: string,
    version: number,
    payload: unknown
  ) => Effect.Effect<Row, NoJobsError | ForeignJobError | JobKindError | StoreError>
  /** `starting` → `running`, once the job's workflow is sent. */
  readonly started: (jobId: string) => Effect.Effect<void, StoreError>
  /** A run of the job began (`starting`/`paused` → `running`). */
  readonly running: (jobId: string) => Effect.Effect<void, StoreError>
  /** A run of the job suspended on `tokens`. */
  readonly paused: (jobId: string, tokens: ReadonlyArray<string>) => Effect.Effect<void, StoreError>
  /** The job ended with this (encoded) exit; its slot is free. */
  readonly ended: (jobId: string, exit: unknown) => Effect.Effect<void, StoreError>
  /** A run of the job diverged from its journal and suspended; it keeps its slot. */
  readonly diverged: (jobId: string, divergence: unknown) => Effect.Effect<void, StoreError>
  /** The steps journaled by the job's own fiber, in order. */
  readonly steps: (jobId: string) => Effect.Effect<ReadonlyArray<JournalStep>, StoreError>
  /** Journals the step at `index` (the next one); a step already journaled there is kept. */
  readonly recordStep: (jobId: string, index: number, step: JournalStep) => Effect.Effect<void, StoreError>
  readonly get: (jobId: string) => Effect.Effect<Row | undefined, StoreError>
  /** The jobs of a kind whose start was cut short. */
  readonly startingOf: (kind: string) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** The jobs of a kind that diverged from their journals. */
  readonly divergedOf: (kind: string) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** The ids of the jobs that change from now on (in any process on the store, for Postgres). */
  readonly changes: Effect.Effect<PubSub.Subscription<string>, never, Scope.Scope>
}

/** @internal */
export const ledger = (pool: DurableJobPool.DurableJobPool): Ledger => pool as Ledger

const randomSecret = () => Crypto.randomBytes(32).toString("base64url")

/** `ASYNC_JOB_DURABLE_SECRET`, if set: the key that signs resume tokens. */
const configuredSecret = Config.option(Config.Redacted("ASYNC_JOB_DURABLE_SECRET")).pipe(
  Effect.map(Option.map(Redacted.value)),
  Effect.orElseSucceed(() => Option.none<string>())
)

const statsOf = (maxSize: number, counts: Record<State, number>): PoolStats => ({
  maxSize,
  created: outstanding(counts) + counts.ended,
  idle: counts.ended,
  running: counts.starting + counts.running,
  paused: counts.paused + counts.diverged
})

const noJobs = (poolId: number, maxSize: number, counts: Record<State, number>) =>
  new NoJobsError({ poolId, stats: statsOf(maxSize, counts) })

/** The row of a job just admitted: its slot is taken, its workflow not yet sent. */
const newRow = (
  fields: Pick<Row, "jobId" | "pool" | "poolId" | "kind" | "seq" | "version" | "payload">,
  now: number
): Row => ({
  ...fields,
  state: "starting",
  tokens: [],
  exit: undefined,
  diverged: undefined,
  createdAt: now,
  updatedAt: now
})

/** The page of `rows` (all of a pool, ordered by seq) that `options` asks for. */
const pageOf = (rows: ReadonlyArray<Row>, options: DurableJobPool.ListOptions | undefined): DurableJobPool.JobPage => {
  const limit = limitOf(options)
  const jobs = rows.filter((row) =>
    row.seq > (options?.after ?? 0) && (options?.states === undefined || options.states.includes(row.state))
  ).slice(0, limit + 1)
  return pageFrom(jobs, limit)
}

const limitOf = (options: DurableJobPool.ListOptions | undefined) =>
  Math.min(1000, Math.max(1, Math.floor(options?.limit ?? 100)))

/** A page from up to `limit + 1` rows: the extra one says whether there is a next page. */
const pageFrom = (rows: ReadonlyArray<Row>, limit: number): DurableJobPool.JobPage => {
  const jobs = rows.slice(0, limit).map(infoOf)
  return { jobs, next: rows.length > limit ? jobs[jobs.length - 1]!.seq : undefined }
}

const infoOf = (row: Row): DurableJobPool.JobInfo => ({
  jobId: row.jobId,
  kind: row.kind,
  seq: row.seq,
  state: row.state,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt
})

/**
 * Purges now and then again, for as long as the layer lives, when the options ask for a retention by age or by
 * count: every second with a bound by count, else once per `retention` (at least once a minute, at most once a
 * second).
 */
const retain = (self: Ledger, options: DurableJobPool.Options | undefined) => {
  const retention = options?.retention
  const keep = options?.maxRetained
  if (retention === undefined && keep === undefined) return Effect.void
  // a bound by count is kept every second; one by age once per retention, at least once a minute
  const every = keep !== undefined || retention === undefined
    ? Duration.seconds(1)
    : Duration.clamp(Duration.fromInputUnsafe(retention), {
      minimum: Duration.seconds(1),
      maximum: Duration.minutes(1)
    })
  return self.purge(retention ?? Duration.infinity, { keep, engine: options?.purgeEngine }).pipe(
    Effect.catchCause(Effect.logWarning),
    Effect.repeat(Schedule.spaced(every)),
    Effect.forkScoped,
    Effect.asVoid
  )
}

/** The epoch milliseconds before which a job must have ended to be purged by age (`-Infinity`: none is). */
const endedBefore = (now: number, olderThan: Duration.Input): number => {
  const age = Duration.toMillis(Duration.fromInputUnsafe(olderThan))
  return age === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : now - age
}

const validateKeep = (keep: number | undefined) => {
  if (keep !== undefined && (!Number.isInteger(keep) || keep < 0)) {
    throw new RangeError(`keep must be a non-negative integer, got ${keep}`)
  }
}

const emptyCounts = (): Record<State, number> => ({ starting: 0, running: 0, paused: 0, diverged: 0, ended: 0 })

/** The entity type of `effect/cluster`'s durable clocks (`ClusterWorkflowEngine`), addressed by execution id. */
const clockEntityType = EntityType.make("Workflow/-/DurableClock")

/**
 * What deletes purged jobs from the engine's store: the messages and replies of each job's workflow (and of its
 * durable clock), through `effect/cluster`'s `MessageStorage` in context. An engine with no message storage in
 * context (`WorkflowEngine.layerMemory`) keeps none to delete.
 */
const engineForgetter = (definitions: () => Map<string, DurableJob.Any>) =>
  Effect.gen(function*() {
    const storage = yield* Effect.serviceOption(MessageStorage.MessageStorage)
    const sharding = yield* Effect.serviceOption(Sharding.Sharding)
    return (
      purged: ReadonlyArray<{ readonly jobId: string; readonly kind: string }>
    ): Effect.Effect<void, StoreError> => {
      if (Option.isNone(storage) || Option.isNone(sharding) || purged.length === 0) return Effect.void
      return Effect.forEach(purged, ({ jobId, kind }) => {
        const entityId = EntityId.make(jobId)
        const annotations = definitions().get(kind)?.workflow.annotations
        const group = annotations === undefined
          ? "default"
          : Context.get(annotations, ClusterSchema.ShardGroup)(entityId)
        const shardId = sharding.value.getShardId(entityId, group)
        return Effect.forEach(
          [EntityType.make(`Workflow/${kind}`), clockEntityType],
          (entityType) => storage.value.clearAddress(EntityAddress.make({ entityType, entityId, shardId })),
          { discard: true }
        )
      }, { discard: true }).pipe(
        Effect.mapError((error) =>
          new StoreError({ operation: "purge", reason: "unavailable", detail: String(error.cause) })
        )
      )
    }
  })

/** The jobs that hold a slot. */
const outstanding = (counts: Record<State, number>) =>
  counts.starting + counts.running + counts.paused + counts.diverged

/** The states a run of a job moves from. */
const live: ReadonlyArray<State> = ["starting", "running", "paused", "diverged"]

// -----------------------------------------------------------------------------
// in memory
// -----------------------------------------------------------------------------

/**
 * The in-process ledger. Enough for `WorkflowEngine.layerMemory`, whose jobs
 * live and die with this process.
 *
 * @internal
 */
export const makeMemory = (options?: DurableJobPool.Options): Effect.Effect<Ledger, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { max, name } = validate(options)
    let maxSize = max ?? 0
    const poolId = 1
    const rows = new Map<string, Row>()
    const journals = new Map<string, Array<JournalStep>>()
    const hub = yield* PubSub.unbounded<string>()
    const secret = Option.getOrElse(yield* configuredSecret, randomSecret)
    const forgetInEngine = yield* engineForgetter(() => self.definitions)
    const counts = () => {
      const counts = emptyCounts()
      for (const row of rows.values()) counts[row.state]++
      return counts
    }
    const update = (jobId: string, from: ReadonlyArray<State>, change: Partial<Row>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const row = rows.get(jobId)
        if (row === undefined || !from.includes(row.state)) return Effect.void
        rows.set(jobId, { ...row, ...change, updatedAt: now })
        return Effect.asVoid(PubSub.publish(hub, jobId))
      })
    const self: Ledger = {
      [TypeId]: TypeId,
      name,
      poolId,
      secret,
      definitions: new Map(),
      lastRun: new Map(),
      stats: Effect.sync(() => statsOf(maxSize, counts())),
      maxSize: Effect.sync(() => maxSize),
      setMaxSize: (n) =>
        Effect.sync(() => {
          validate({ maxSize: n })
          maxSize = n
        }),
      outstandingIds: Effect.sync(() =>
        Array.from(rows.values()).flatMap((row) => row.state === "ended" ? [] : [row.jobId])
      ),
      admit: (jobId, kind, version, payload) =>
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<Row, NoJobsError | JobKindError> => {
          const row = rows.get(jobId)
          if (row !== undefined) {
            if (row.kind !== kind) return Effect.fail(new JobKindError({ jobId, expected: kind, actual: row.kind }))
            return Effect.succeed(row)
          }
          const taken = counts()
          if (maxSize > 0 && outstanding(taken) >= maxSize) {
            return Effect.fail(noJobs(poolId, maxSize, taken))
          }
          const created = newRow({ jobId, pool: name, poolId, kind, seq: rows.size + 1, version, payload }, now)
          rows.set(jobId, created)
          return Effect.succeed(created)
        }),
      // the payload was kept to complete a start cut short; once the workflow is sent, the engine holds it
      started: (jobId) => update(jobId, ["starting"], { state: "running", payload: undefined }),
      running: (jobId) =>
        update(jobId, ["starting", "paused", "diverged"], { state: "running", tokens: [], diverged: undefined }),
      paused: (jobId, tokens) => update(jobId, ["starting", "running", "paused"], { state: "paused", tokens }),
      ended: (jobId, exit) => update(jobId, live, { state: "ended", tokens: [], exit, diverged: undefined }),
      diverged: (jobId, divergence) => update(jobId, live, { state: "diverged", tokens: [], diverged: divergence }),
      steps: (jobId) => Effect.sync(() => journals.get(jobId)?.slice() ?? []),
      recordStep: (jobId, index, step) =>
        Effect.sync(() => {
          const journal = journals.get(jobId) ?? []
          if (index === journal.length) journal.push(step)
          journals.set(jobId, journal)
        }),
      get: (jobId) => Effect.sync(() => rows.get(jobId)),
      startingOf: (kind) =>
        Effect.sync(() => Array.from(rows.values()).filter((row) => row.kind === kind && row.state === "starting")),
      divergedOf: (kind) =>
        Effect.sync(() => Array.from(rows.values()).filter((row) => row.kind === kind && row.state === "diverged")),
      changes: PubSub.subscribe(hub),
      list: (options) => Effect.sync(() => pageOf(Array.from(rows.values()), options)),
      purge: (olderThan, purgeOptions) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          validateKeep(purgeOptions?.keep)
          const before = endedBefore(now, olderThan)
          // the ended jobs, those that ended last first: the first `keep` of them stay whatever their age
          const ended = Array.from(rows.values()).filter((row) => row.state === "ended")
            .sort((a, b) => b.updatedAt - a.updatedAt || b.seq - a.seq)
          const keep = purgeOptions?.keep ?? Number.POSITIVE_INFINITY
          const purged = ended.filter((row, i) => i >= keep || row.updatedAt < before)
          for (const row of purged) {
            rows.delete(row.jobId)
            journals.delete(row.jobId)
          }
          return Effect.as(
            purgeOptions?.engine === true ? forgetInEngine(purged) : Effect.void,
            purged.length
          )
        })
    }
    yield* retain(self, options)
    return self
  })

// -----------------------------------------------------------------------------
// SQL
// -----------------------------------------------------------------------------

/** What a driver's error says about the store. */
const reasonOf = (error: SqlError): StoreError["reason"] => {
  const cause = error.reason.cause
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  const text = `${code} ${cause instanceof Error ? cause.message : String(cause)}`
  if (/READONLY|readonly database/i.test(text)) return "read-only"
  if (/NOTADB|not a database|CORRUPT|malformed/i.test(text)) return "corrupt"
  if (/CANTOPEN|unable to open|no such table/i.test(text)) return "missing"
  return "unavailable"
}

/** @internal */
export const storeError = (operation: string) => (error: SqlError): StoreError =>
  new StoreError({
    operation,
    reason: reasonOf(error),
    detail: error.reason.cause instanceof Error ? error.reason.cause.message : error.message
  })

/**
 * The `SqlClient` of a SQLite file (`node:sqlite`); a file that cannot be
 * opened fails with a `StoreError`. The driver is loaded as the layer builds,
 * so that a process that uses no SQLite store does not load `node:sqlite`
 * (which Node 22 reports as experimental, with a warning).
 *
 * @internal
 */
export const layerSqliteClient = (filename: string): Layer.Layer<SqlClient.SqlClient, StoreError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const SqliteClient = yield* Effect.promise(() => import("@effect/sql-sqlite-node/SqliteClient"))
      const client = yield* Effect.mapError(SqliteClient.make({ filename }), storeError("open"))
      return Context.make(SqlClient.SqlClient, client)
    })
  ).pipe(Layer.provide(Reactivity.layer))

/**
 * Checks a SQLite file before it is opened: its directory exists, it is
 * writable, and if it exists it is a SQLite database.
 *
 * @internal
 */
export const checkSqliteFile = (filename: string): Effect.Effect<void, StoreError> =>
  Effect.suspend(() => {
    const fail = (reason: StoreError["reason"], detail: string) =>
      Effect.fail(new StoreError({ operation: "open", reason, detail: `${filename}: ${detail}` }))
    const dir = Path.dirname(Path.resolve(filename))
    if (!Fs.existsSync(dir)) return fail("missing", `no directory ${dir}`)
    if (!Fs.existsSync(filename)) {
      try {
        Fs.accessSync(dir, Fs.constants.W_OK)
        return Effect.void
      } catch (error) {
        return fail("read-only", String(error))
      }
    }
    let fd: number
    try {
      fd = Fs.openSync(filename, "r+")
    } catch (error) {
      const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined
      return code === "EACCES" || code === "EPERM" || code === "EROFS"
        ? fail("read-only", String(error))
        : fail("unavailable", String(error))
    }
    try {
      const header = Buffer.alloc(16)
      const read = Fs.readSync(fd, header, 0, 16, 0)
      if (read > 0 && header.toString("latin1", 0, read) !== SQLITE_HEADER.slice(0, read)) {
        return fail("corrupt", "not a SQLite database")
      }
      return Effect.void
    } finally {
      Fs.closeSync(fd)
    }
  })

const SQLITE_HEADER = "SQLite format 3\u0000"

/**
 * A check that the SQLite file is still the one opened: a file deleted or
 * replaced while in use would otherwise be recreated empty by the next
 * process, its jobs silently gone.
 *
 * @internal
 */
export const guardSqliteFile = (filename: string): Effect.Effect<Effect.Effect<void, StoreError>> =>
  Effect.sync(() => {
    const identity = (stat: Fs.Stats) => `${stat.dev}/${stat.ino}`
    const opened = Fs.existsSync(filename) ? identity(Fs.statSync(filename)) : undefined
    return Effect.suspend(() => {
      const now = Fs.existsSync(filename) ? identity(Fs.statSync(filename)) : undefined
      return opened !== undefined && now === opened ? Effect.void : Effect.fail(
        new StoreError({
          operation: "check",
          reason: "replaced",
          detail: `${filename} was ${now === undefined ? "deleted" : "replaced"} while in use`
        })
      )
    })
  })

/** The channel on which Postgres runners tell each other which jobs changed. */
const CHANNEL = "async_job_durable"

interface RawRow {
  readonly job_id: string
  readonly pool: string
  readonly pool_id: number | string
  readonly kind: string
  readonly seq: number | string
  readonly version: number | string
  readonly state: State
  readonly tokens: string
  readonly payload: string
  readonly exit: string | null
  readonly diverged: string | null
  readonly created_at: number | string
  readonly updated_at: number | string
}

const rowOf = (raw: RawRow): Row => ({
  jobId: raw.job_id,
  pool: raw.pool,
  poolId: Number(raw.pool_id),
  kind: raw.kind,
  seq: Number(raw.seq),
  version: Number(raw.version),
  state: raw.state,
  tokens: JSON.parse(raw.tokens) as ReadonlyArray<string>,
  payload: JSON.parse(raw.payload),
  exit: raw.exit === null ? undefined : JSON.parse(raw.exit),
  diverged: raw.diverged === null ? undefined : JSON.parse(raw.diverged),
  createdAt: Number(raw.created_at),
  updatedAt: Number(raw.updated_at)
})

/**
 * The shared ledger: one row per job (its slot, kind, payload, and state), in
 * the same database as the workflow engine's messages, so every runner on
 * that database sees the same jobs and counts. The bound lives in the
 * database too (`async_job_durable_pools`). Admission is one transaction
 * (under an advisory lock on Postgres, under SQLite's write lock otherwise),
 * so two runners cannot both take the last slot.
 *
 * @internal
 */
export const makeSql = (
  options?: DurableJobPool.Options,
  guard: Effect.Effect<void, StoreError> = Effect.void
): Effect.Effect<Ledger, StoreError, SqlClient.SqlClient | Scope.Scope> =>
  Effect.gen(function*() {
    const { max, name } = validate(options)
    const sql = yield* SqlClient.SqlClient
    const pg = yield* Effect.serviceOption(PgClient.PgClient)
    const jobs = sql("async_job_durable_jobs")
    const pools = sql("async_job_durable_pools")
    const meta = sql("async_job_durable_meta")
    const steps = sql("async_job_durable_steps")
    const lock = sql.onDialectOrElse({
      pg: () => sql`SELECT pg_advisory_xact_lock(hashtext(${"async_job_durable"}))`,
      orElse: () => Effect.void
    })
    // runners may start together: a lost CREATE race on Postgres is retried
    yield* Effect.all([
      sql`CREATE TABLE IF NOT EXISTS ${jobs} (
        job_id VARCHAR(255) PRIMARY KEY,
        pool VARCHAR(255) NOT NULL,
        pool_id INTEGER NOT NULL,
        kind VARCHAR(255) NOT NULL,
        seq INTEGER NOT NULL,
        version INTEGER NOT NULL,
        state VARCHAR(16) NOT NULL,
        tokens TEXT NOT NULL,
        payload TEXT NOT NULL,
        exit TEXT,
        diverged TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      sql`CREATE INDEX IF NOT EXISTS async_job_durable_jobs_pool_state ON ${jobs} (pool, state)`,
      sql`CREATE TABLE IF NOT EXISTS ${pools} (
        name VARCHAR(255) PRIMARY KEY,
        id INTEGER NOT NULL,
        max_size INTEGER NOT NULL
      )`,
      sql`CREATE TABLE IF NOT EXISTS ${meta} (name VARCHAR(255) PRIMARY KEY, value TEXT NOT NULL)`,
      sql`CREATE TABLE IF NOT EXISTS ${steps} (
        job_id VARCHAR(255) NOT NULL,
        step INTEGER NOT NULL,
        kind VARCHAR(16) NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (job_id, step)
      )`
    ], { discard: true }).pipe(Effect.retry({ times: 5 }), Effect.mapError(storeError("create tables")))
    // a store created before replays were checked lacks the column of divergences
    yield* sql`SELECT diverged FROM ${jobs} WHERE 1 = 0`.pipe(
      Effect.catch(() => sql`ALTER TABLE ${jobs} ADD COLUMN diverged TEXT`),
      Effect.retry({ times: 5 }),
      Effect.mapError(storeError("create tables"))
    )

    // the pool's number and bound, and the store's token key: created by the first runner, shared by all
    const configured = yield* configuredSecret
    const { poolId, secret } = yield* sql.withTransaction(Effect.gen(function*() {
      yield* lock
      const existing = yield* sql<{ readonly id: number | string }>`SELECT id FROM ${pools} WHERE name = ${name}`
      let poolId: number
      if (existing[0] === undefined) {
        const next = yield* sql<{ readonly id: number | string }>`SELECT COALESCE(MAX(id), 0) + 1 AS id FROM ${pools}`
        poolId = Number(next[0]?.id ?? 1)
        yield* sql`INSERT INTO ${pools} (name, id, max_size) VALUES (${name}, ${poolId}, ${max ?? 0})`
      } else {
        poolId = Number(existing[0].id)
        if (max !== undefined) yield* sql`UPDATE ${pools} SET max_size = ${max} WHERE name = ${name}`
      }
      const stored = yield* sql<{ readonly value: string }>`SELECT value FROM ${meta} WHERE name = ${"secret"}`
      let secret = stored[0]?.value
      if (secret === undefined) {
        secret = randomSecret()
        yield* sql`INSERT INTO ${meta} (name, value) VALUES (${"secret"}, ${secret})`
      }
      return { poolId, secret: Option.getOrElse(configured, () => secret) }
    })).pipe(Effect.retry({ times: 5 }), Effect.mapError(storeError("open pool")))

    const hub = yield* PubSub.unbounded<string>()
    const forgetInEngine = yield* engineForgetter(() => self.definitions)
    if (Option.isSome(pg)) {
      // each job id notified on the channel, by any runner; listening again (on a new connection) once it failed
      yield* Effect.scoped(Effect.gen(function*() {
        const notifications = yield* pg.value.listen(CHANNEL)
        while (true) yield* PubSub.publish(hub, (yield* Queue.take(notifications)).payload)
      })).pipe(
        Effect.retry(Schedule.spaced("1 second")),
        Effect.forkScoped
      )
    }
    const notify = (jobId: string) =>
      Option.match(pg, {
        onNone: () => Effect.asVoid(PubSub.publish(hub, jobId)),
        // the listener above publishes it here too
        onSome: () => sql`SELECT pg_notify(${CHANNEL}, ${jobId})`
      })

    const maxSize = Effect.map(
      sql<{ readonly max_size: number | string }>`SELECT max_size FROM ${pools} WHERE name = ${name}`,
      (rows) => Number(rows[0]?.max_size ?? 0)
    )
    const counts = Effect.map(
      sql<{ readonly state: State; readonly n: number | string }>`SELECT state, count(*) AS n FROM ${jobs}
        WHERE pool = ${name} GROUP BY state`,
      (rows) => {
        const counts = emptyCounts()
        for (const row of rows) counts[row.state] = Number(row.n)
        return counts
      }
    )
    const get = (jobId: string) =>
      Effect.map(
        sql<RawRow>`SELECT * FROM ${jobs} WHERE job_id = ${jobId}`,
        (rows) => rows[0] === undefined ? undefined : rowOf(rows[0])
      )
    const update = (operation: string, jobId: string, from: ReadonlyArray<State>, set: Record<string, unknown>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        yield* sql`UPDATE ${jobs} SET ${sql.update({ ...set, updated_at: now })}
          WHERE job_id = ${jobId} AND ${sql.in("state", from)}`
        yield* notify(jobId)
      }).pipe(Effect.mapError(storeError(operation)))

    const self: Ledger = {
      [TypeId]: TypeId,
      name,
      poolId,
      secret,
      definitions: new Map(),
      lastRun: new Map(),
      stats: Effect.andThen(
        guard,
        Effect.zipWith(maxSize, counts, statsOf).pipe(Effect.mapError(storeError("stats")))
      ),
      maxSize: Effect.mapError(maxSize, storeError("maxSize")),
      setMaxSize: (n) =>
        Effect.suspend(() => {
          validate({ maxSize: n })
          return sql`UPDATE ${pools} SET max_size = ${n} WHERE name = ${name}`
        }).pipe(Effect.asVoid, Effect.mapError(storeError("setMaxSize"))),
      outstandingIds: sql<{ readonly job_id: string }>`SELECT job_id FROM ${jobs}
        WHERE pool = ${name} AND state <> ${"ended"} ORDER BY seq`.pipe(
        Effect.map((rows) => rows.map((row) => row.job_id)),
        Effect.mapError(storeError("outstandingIds")),
        Effect.tap(() => guard)
      ),
      admit: (jobId, kind, version, payload) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* lock
          const existing = yield* get(jobId)
          if (existing !== undefined) {
            if (existing.pool !== name) {
              return yield* new ForeignJobError({ jobId: existing.seq, ownerPoolId: existing.poolId, poolId })
            }
            if (existing.kind !== kind) {
              return yield* new JobKindError({ jobId, expected: kind, actual: existing.kind })
            }
            return existing
          }
          const bound = yield* maxSize
          if (bound > 0) {
            const now = yield* counts
            if (outstanding(now) >= bound) return yield* noJobs(poolId, bound, now)
          }
          const next = yield* sql<
            { readonly seq: number | string }
          >`SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM ${jobs}`
          const now = yield* Clock.currentTimeMillis
          const row = newRow(
            { jobId, pool: name, poolId, kind, seq: Number(next[0]?.seq ?? 1), version, payload },
            now
          )
          yield* sql`INSERT INTO ${jobs} ${
            sql.insert({
              job_id: row.jobId,
              pool: row.pool,
              pool_id: poolId,
              kind: row.kind,
              seq: row.seq,
              version: row.version,
              state: row.state,
              tokens: "[]",
              payload: JSON.stringify(payload),
              created_at: now,
              updated_at: now
            })
          }`
          return row
        })).pipe(
          Effect.catchTag("SqlError", (error) => Effect.fail(storeError("start")(error))),
          Effect.tap(() => guard)
        ),
      // the payload was kept to complete a start cut short; once the workflow is sent, the engine holds it: the
      // ledger keeps no second copy of a job's input
      started: (jobId) => update("start", jobId, ["starting"], { state: "running", payload: "null" }),
      running: (jobId) =>
        update("run", jobId, ["starting", "paused", "diverged"], { state: "running", tokens: "[]", diverged: null }),
      paused: (jobId, tokens) =>
        update("pause", jobId, ["starting", "running", "paused"], { state: "paused", tokens: JSON.stringify(tokens) }),
      ended: (jobId, exit) =>
        update("end", jobId, live, { state: "ended", tokens: "[]", exit: JSON.stringify(exit), diverged: null }),
      diverged: (jobId, divergence) =>
        update("diverge", jobId, live, { state: "diverged", tokens: "[]", diverged: JSON.stringify(divergence) }),
      steps: (jobId) =>
        sql<{ readonly kind: JournalStep["kind"]; readonly name: string }>`SELECT kind, name FROM ${steps}
          WHERE job_id = ${jobId} ORDER BY step`.pipe(
          Effect.map((rows) => rows.map(({ kind, name }): JournalStep => ({ kind, name }))),
          Effect.mapError(storeError("replay")),
          Effect.tap(() => guard)
        ),
      recordStep: (jobId, index, step) =>
        sql`INSERT INTO ${steps} ${sql.insert({ job_id: jobId, step: index, kind: step.kind, name: step.name })}
          ON CONFLICT (job_id, step) DO NOTHING`.pipe(Effect.asVoid, Effect.mapError(storeError("journal"))),
      get: (jobId) => Effect.tap(Effect.mapError(get(jobId), storeError("read")), () => guard),
      startingOf: (kind) =>
        sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind} AND state = ${"starting"}`.pipe(
          Effect.map((rows) => rows.map(rowOf)),
          Effect.mapError(storeError("recover"))
        ),
      divergedOf: (kind) =>
        sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind} AND state = ${"diverged"}`.pipe(
          Effect.map((rows) => rows.map(rowOf)),
          Effect.mapError(storeError("recover"))
        ),
      changes: PubSub.subscribe(hub),
      list: (options) =>
        Effect.suspend(() => {
          const limit = limitOf(options)
          const states = options?.states
          return sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND seq > ${options?.after ?? 0}
            ${states === undefined ? sql`` : sql`AND ${sql.in("state", states)}`}
            ORDER BY seq LIMIT ${limit + 1}`.pipe(Effect.map((rows) => pageFrom(rows.map(rowOf), limit)))
        }).pipe(Effect.mapError(storeError("list")), Effect.tap(() => guard)),
      purge: (olderThan, purgeOptions) =>
        Effect.gen(function*() {
          validateKeep(purgeOptions?.keep)
          const before = endedBefore(yield* Clock.currentTimeMillis, olderThan)
          const keep = purgeOptions?.keep
          const byAge = before === Number.NEGATIVE_INFINITY ? sql`1 = 0` : sql`updated_at < ${before}`
          // the ended jobs beyond the `keep` that ended last (ties: the later started stays)
          const byCount = keep === undefined ? sql`1 = 0` : sql`job_id NOT IN (
            SELECT job_id FROM ${jobs} WHERE pool = ${name} AND state = ${"ended"}
            ORDER BY updated_at DESC, seq DESC LIMIT ${keep})`
          const purged = yield* sql<{ readonly job_id: string; readonly kind: string }>`DELETE FROM ${jobs}
            WHERE pool = ${name} AND state = ${"ended"} AND (${byAge} OR ${byCount}) RETURNING job_id, kind`
          if (purged.length > 0) {
            yield* sql`DELETE FROM ${steps} WHERE ${sql.in("job_id", purged.map((row) => row.job_id))}`
          }
          return purged.map((row) => ({ jobId: row.job_id, kind: row.kind }))
        }).pipe(
          sql.withTransaction,
          Effect.mapError(storeError("purge")),
          Effect.tap(() => guard),
          // after the ledger's transaction: a job the ledger forgot is never polled from the engine again
          Effect.tap((purged) => purgeOptions?.engine === true ? forgetInEngine(purged) : Effect.void),
          Effect.map((purged) => purged.length)
        )
    }
    yield* retain(self, options)
    return self
  })
