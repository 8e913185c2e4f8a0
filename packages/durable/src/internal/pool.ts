import type { PoolStats } from "@async-job/core/JobPool"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Arr from "effect/Array"
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
import * as Predicate from "effect/Predicate"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as SqlErrorModule from "effect/sql/SqlError"
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
  /** The keys of resume tokens. */
  readonly keys: Keys
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
  /**
   * A run of the job begins: if the job is `starting`, `running` or `paused` and its version is one of
   * `versions`, it is recorded `running` (`begun`); else nothing changes. Answers the row (undefined if there is
   * none). No wait is woken by it (a wait ends on no run).
   */
  readonly begin: (
    jobId: string,
    versions: { readonly min: number; readonly max: number }
  ) => Effect.Effect<{ readonly begun: boolean; readonly row: Row | undefined }, StoreError>
  /** A run of the job began (`starting`/`paused` → `running`); no wait is woken by it (a wait ends on no run). */
  readonly running: (jobId: string) => Effect.Effect<void, StoreError>
  /**
   * A run of the job suspended on `tokens`. The `steps` the run took past its journal are journaled with it, in
   * one transaction (see {@link Ledger.steps}).
   */
  readonly paused: (jobId: string, tokens: ReadonlyArray<string>, steps?: Steps) => Effect.Effect<void, StoreError>
  /** The job ended with this (encoded) exit; its slot is free. `steps` as for `paused`. */
  readonly ended: (jobId: string, exit: unknown, steps?: Steps) => Effect.Effect<void, StoreError>
  /** A run of the job diverged from its journal and suspended; it keeps its slot. `steps` as for `paused`. */
  readonly diverged: (jobId: string, divergence: unknown, steps?: Steps) => Effect.Effect<void, StoreError>
  /**
   * The steps journaled by the job's own fiber, in order. A run journals the steps it takes past the journal when
   * it pauses or ends, with that record; a run cut short (a crash, a preemption) journals none, and the next run
   * takes them again.
   */
  readonly steps: (jobId: string) => Effect.Effect<ReadonlyArray<JournalStep>, StoreError>
  readonly get: (jobId: string) => Effect.Effect<Row | undefined, StoreError>
  /** The jobs of a kind whose start was cut short. */
  readonly startingOf: (kind: string) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** The jobs of a kind that are `starting` or `running`, unchanged for `olderThan` (the sweep's). */
  readonly stale: (kind: string, olderThan: Duration.Duration) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** The paused jobs of a kind started under a version older than `minVersion`. */
  readonly retiredOf: (kind: string, minVersion: number) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /** The jobs of a kind that diverged from their journals. */
  readonly divergedOf: (kind: string) => Effect.Effect<ReadonlyArray<Row>, StoreError>
  /**
   * The ids of the jobs that change from now on (in any process on the store, for Postgres), and {@link ANY_JOB}
   * when changes may have been missed (the connection that listens for them was lost and is back).
   */
  readonly changes: Effect.Effect<PubSub.Subscription<string>, never, Scope.Scope>
  /**
   * How often a wait reads its job again when no change is announced: changes of other processes are announced
   * only through Postgres `LISTEN`, which may drop one while its connection is lost. `undefined` in memory.
   */
  readonly recheck: Duration.Duration | undefined
}

/**
 * Announced on {@link Ledger.changes} when changes may have been missed: every wait reads its job again.
 *
 * @internal
 */
export const ANY_JOB = "*"

/**
 * How often a wait on a SQL store reads its job again when no change is announced (see {@link Ledger.recheck}).
 *
 * @internal
 */
export const RECHECK = Duration.seconds(2)

/**
 * Steps a run took past its journal, by their index: journaled with the run's pause or end.
 *
 * @internal
 */
export type Steps = ReadonlyArray<readonly [index: number, step: JournalStep]>

/** The pools made by this module, by the service a layer provides: each one is its own ledger. */
const ledgers = new WeakMap<DurableJobPool.DurableJobPool, Ledger>()

const register = (self: Ledger): Ledger => {
  ledgers.set(self, self)
  return self
}

/**
 * The ledger of the pool in context. A `DurableJobPool` made elsewhere (not by a layer of `DurableJobPool`) has
 * none: a defect.
 *
 * @internal
 */
export const ledger = (pool: DurableJobPool.DurableJobPool): Ledger => {
  const found = ledgers.get(pool)
  if (found === undefined) throw new TypeError("this DurableJobPool was not made by a layer of DurableJobPool")
  return found
}

const randomSecret = () => Crypto.randomBytes(32).toString("base64url")

/**
 * `ASYNC_JOB_DURABLE_SECRET`: the keys that sign resume tokens, separated by commas (none if unset). The first
 * signs; any of them verifies.
 */
const configuredKeys = Config.option(Config.Redacted("ASYNC_JOB_DURABLE_SECRET")).pipe(
  Effect.map(Option.match({
    onNone: () => [],
    onSome: (keys) => Redacted.value(keys).split(",").map((key) => key.trim()).filter((key) => key !== "")
  })),
  Effect.orElseSucceed((): ReadonlyArray<string> => [])
)

/**
 * The keys of resume tokens: the first configured key signs (else the store's own); the configured keys and the
 * store's own verify (the store's own key is in the store, which anyone who can forge a token there can read).
 *
 * @internal
 */
export interface Keys {
  readonly sign: string
  readonly verify: ReadonlyArray<string>
}

const keysOf = (configured: ReadonlyArray<string>, own: string): Keys => ({
  sign: configured[0] ?? own,
  verify: [...configured, own]
})

/** What the store keeps of a key: enough to tell whether two runners share one, nothing to sign with. */
const fingerprint = (key: string) =>
  Crypto.createHmac("sha256", key).update("@async-job/durable key fingerprint").digest("base64url").slice(0, 16)

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
    const keys = keysOf(yield* configuredKeys, randomSecret())
    const forgetInEngine = yield* engineForgetter(() => self.definitions)
    const counts = () => {
      const counts = emptyCounts()
      for (const row of rows.values()) counts[row.state]++
      return counts
    }
    const journal = (jobId: string, steps: Steps = []) =>
      Effect.sync(() => {
        const journal = journals.get(jobId) ?? []
        for (const [index, step] of steps) if (index === journal.length) journal.push(step)
        journals.set(jobId, journal)
      })
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
      keys,
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
      begin: (jobId, versions) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            const row = rows.get(jobId)
            if (
              row === undefined || !["starting", "running", "paused"].includes(row.state) ||
              row.version < versions.min || row.version > versions.max
            ) return { begun: false, row }
            // the payload was kept to complete a start cut short: once a run begins, the engine holds it
            const begun: Row = {
              ...row,
              state: "running",
              tokens: [],
              diverged: undefined,
              payload: undefined,
              updatedAt: now
            }
            rows.set(jobId, begun)
            return { begun: true, row: begun }
          })),
      running: (jobId) =>
        update(jobId, ["starting", "paused", "diverged"], { state: "running", tokens: [], diverged: undefined }),
      paused: (jobId, tokens, steps) =>
        Effect.andThen(
          journal(jobId, steps),
          update(jobId, ["starting", "running", "paused"], { state: "paused", tokens })
        ),
      ended: (jobId, exit, steps) =>
        Effect.andThen(
          journal(jobId, steps),
          update(jobId, live, { state: "ended", tokens: [], exit, diverged: undefined })
        ),
      diverged: (jobId, divergence, steps) =>
        Effect.andThen(
          journal(jobId, steps),
          update(jobId, live, { state: "diverged", tokens: [], diverged: divergence })
        ),
      steps: (jobId) => Effect.sync(() => journals.get(jobId)?.slice() ?? []),
      get: (jobId) => Effect.sync(() => rows.get(jobId)),
      startingOf: (kind) =>
        Effect.sync(() => Array.from(rows.values()).filter((row) => row.kind === kind && row.state === "starting")),
      stale: (kind, olderThan) =>
        Effect.map(
          Clock.currentTimeMillis,
          (now) =>
            Array.from(rows.values()).filter((row) =>
              row.kind === kind && (row.state === "starting" || row.state === "running") &&
              row.updatedAt < now - Duration.toMillis(olderThan)
            )
        ),
      retiredOf: (kind, minVersion) =>
        Effect.sync(() =>
          Array.from(rows.values()).filter((row) =>
            row.kind === kind && row.state === "paused" && row.version < minVersion
          )
        ),
      divergedOf: (kind) =>
        Effect.sync(() => Array.from(rows.values()).filter((row) => row.kind === kind && row.state === "diverged")),
      changes: PubSub.subscribe(hub),
      recheck: undefined,
      list: (options) => Effect.sync(() => pageOf(Array.from(rows.values()), options)),
      purge: (olderThan, purgeOptions) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          validateKeep(purgeOptions?.keep)
          const before = endedBefore(now, olderThan)
          // the ended jobs, those that ended last first: the first `keep` of them stay whatever their age
          const ended = Array.from(rows.values()).filter((row) => row.state === "ended")
            .sort((a, b) => b.updatedAt - a.updatedAt || b.seq - a.seq)
          const keep = purgeOptions?.keep ?? Number.POSITIVE_INFINITY
          const purged = ended.filter((row, i) => i >= keep || row.updatedAt <= before)
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
    return register(self)
  })

// -----------------------------------------------------------------------------
// SQL
// -----------------------------------------------------------------------------

/** SQLite's primary result codes that say what is wrong with the store (`errcode & 0xff`). */
const SQLITE_REASONS: Partial<Record<number, StoreError["reason"]>> = {
  5: "in-use", // SQLITE_BUSY: another connection, in another process, holds the file
  6: "in-use", // SQLITE_LOCKED
  8: "read-only", // SQLITE_READONLY
  11: "corrupt", // SQLITE_CORRUPT
  13: "full", // SQLITE_FULL
  14: "missing", // SQLITE_CANTOPEN
  26: "corrupt" // SQLITE_NOTADB
}

/** What a driver's error says about the store. */
const reasonOf = (error: SqlError): StoreError["reason"] => {
  const cause = error.reason.cause
  const field = (name: string) => Predicate.hasProperty(cause, name) ? cause[name] : undefined
  const errcode = field("errcode")
  if (typeof errcode === "number" && SQLITE_REASONS[errcode & 0xff] !== undefined) {
    return SQLITE_REASONS[errcode & 0xff]!
  }
  if (error.reason._tag === "LockTimeoutError") return "in-use"
  const text = `${String(field("code") ?? "")} ${cause instanceof Error ? cause.message : String(cause)}`
  if (/READONLY|readonly database/i.test(text)) return "read-only"
  if (/NOTADB|not a database|CORRUPT|malformed/i.test(text)) return "corrupt"
  if (/SQLITE_FULL|disk is full/i.test(text)) return "full"
  if (/SQLITE_BUSY|database is locked/i.test(text)) return "in-use"
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
 * A store error from whatever a failed store operation of the engine carries (its `PersistenceError`'s cause): the
 * driver's error says why; anything else, the store is unavailable.
 *
 * @internal
 */
export const storeErrorOf = (operation: string, cause: unknown): StoreError => {
  const found = SqlErrorModule.isSqlError(cause)
    ? cause
    : typeof cause === "object" && cause !== null && "cause" in cause && SqlErrorModule.isSqlError(cause.cause)
    ? cause.cause
    : undefined
  return found !== undefined
    ? storeError(operation)(found)
    : new StoreError({ operation, reason: "unavailable", detail: String(cause) })
}

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
      // the file is this process's until it ends (the lock goes with the process, also on kill -9): the connection
      // keeps the lock its first write takes, so another process that opens the file is refused (`in-use`)
      yield* client.unsafe("PRAGMA locking_mode = EXCLUSIVE").pipe(
        Effect.andThen(client`CREATE TABLE IF NOT EXISTS async_job_durable_meta (
          name VARCHAR(255) PRIMARY KEY, value TEXT NOT NULL
        )`),
        Effect.andThen(client`INSERT INTO async_job_durable_meta (name, value) VALUES (${"store"}, ${storeId()})
          ON CONFLICT (name) DO NOTHING`),
        Effect.mapError((error) => {
          const failed = storeError("open")(error)
          return failed.reason === "in-use"
            ? new StoreError({
              operation: "open",
              reason: "in-use",
              detail: `${filename} is open in another process (a SQLite store serves one process at a time)`
            })
            : failed
        })
      )
      // where the store is: a file that vanishes from here later is refused, not recreated (see checkSqliteFile)
      const [row] = yield* client<{ readonly value: string }>`SELECT value FROM async_job_durable_meta
        WHERE name = ${"store"}`.pipe(Effect.mapError(storeError("open")))
      yield* Effect.try({
        try: () => Fs.writeFileSync(markerOf(filename), `${row?.value ?? ""}\n`),
        catch: (error) => new StoreError({ operation: "open", reason: "read-only", detail: String(error) })
      })
      return Context.make(SqlClient.SqlClient, client)
    })
  ).pipe(Layer.provide(Reactivity.layer))

const storeId = () => Crypto.randomBytes(12).toString("base64url")

/**
 * The file beside a SQLite store that says a store was there (it holds the store's id): a store file that vanished
 * leaves it behind.
 *
 * @internal
 */
export const markerOf = (filename: string): string => `${filename}-durable`

/**
 * Checks a SQLite file before it is opened: its directory exists and is
 * writable (SQLite writes its journal beside the file), it exists unless no
 * store was there before (or `create` asks for a new one), and if it exists
 * it is a SQLite database.
 *
 * @internal
 */
export const checkSqliteFile = (filename: string, create = false): Effect.Effect<void, StoreError> =>
  Effect.suspend(() => {
    const fail = (reason: StoreError["reason"], detail: string) =>
      Effect.fail(new StoreError({ operation: "open", reason, detail: `${filename}: ${detail}` }))
    const dir = Path.dirname(Path.resolve(filename))
    if (!Fs.existsSync(dir)) return fail("missing", `no directory ${dir}`)
    try {
      Fs.accessSync(dir, Fs.constants.W_OK)
    } catch (error) {
      return fail("read-only", `its directory cannot be written (${String(error)})`)
    }
    if (!Fs.existsSync(filename)) {
      if (create || !Fs.existsSync(markerOf(filename))) return Effect.void
      return fail(
        "missing",
        `the store that was here (${markerOf(filename)}) is gone: restore the file, or open with create: true ` +
          `for a new, empty store`
      )
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

/** How a lost `LISTEN` connection is replaced: at once, then every 100 ms to 1 s while the server is away. */
const LISTEN_RETRY = Schedule.min([Schedule.exponential("100 millis", 2), Schedule.spaced("1 second")])

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
    const stepsTable = sql("async_job_durable_steps")
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
        max_size INTEGER NOT NULL,
        configured INTEGER
      )`,
      sql`CREATE TABLE IF NOT EXISTS ${meta} (name VARCHAR(255) PRIMARY KEY, value TEXT NOT NULL)`,
      sql`CREATE TABLE IF NOT EXISTS ${stepsTable} (
        job_id VARCHAR(255) NOT NULL,
        step INTEGER NOT NULL,
        kind VARCHAR(16) NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (job_id, step)
      )`
    ], { discard: true }).pipe(Effect.retry({ times: 5 }), Effect.mapError(storeError("create tables")))
    // a store created before replays were checked lacks the column of divergences, and one of 0.1 the column of
    // the bound last configured
    yield* sql`SELECT diverged FROM ${jobs} WHERE 1 = 0`.pipe(
      Effect.catch(() => sql`ALTER TABLE ${jobs} ADD COLUMN diverged TEXT`),
      Effect.retry({ times: 5 }),
      Effect.mapError(storeError("create tables"))
    )
    yield* sql`SELECT configured FROM ${pools} WHERE 1 = 0`.pipe(
      Effect.catch(() => sql`ALTER TABLE ${pools} ADD COLUMN configured INTEGER`),
      Effect.retry({ times: 5 }),
      Effect.mapError(storeError("create tables"))
    )

    // the pool's number and bound, and the store's token key: created by the first runner, shared by all
    const configured = yield* configuredKeys
    const { keyPrints, own, poolId } = yield* sql.withTransaction(Effect.gen(function*() {
      yield* lock
      const existing = yield* sql<{ readonly id: number | string; readonly configured: number | string | null }>`
        SELECT id, configured FROM ${pools} WHERE name = ${name}`
      let poolId: number
      if (existing[0] === undefined) {
        const next = yield* sql<{ readonly id: number | string }>`SELECT COALESCE(MAX(id), 0) + 1 AS id FROM ${pools}`
        poolId = Number(next[0]?.id ?? 1)
        yield* sql`INSERT INTO ${pools} (name, id, max_size, configured) VALUES (${name}, ${poolId}, ${max ?? 0},
          ${max ?? null})`
      } else {
        poolId = Number(existing[0].id)
        // the later of the two wins: a bound given to this runner applies if it differs from the one the runners
        // were last given (a changed configuration); the same bound again keeps what setMaxSize set since
        if (max !== undefined && Number(existing[0].configured ?? -1) !== max) {
          yield* sql`UPDATE ${pools} SET max_size = ${max}, configured = ${max} WHERE name = ${name}`
        }
      }
      const stored = yield* sql<{ readonly value: string }>`SELECT value FROM ${meta} WHERE name = ${"secret"}`
      let own = stored[0]?.value
      if (own === undefined) {
        own = randomSecret()
        yield* sql`INSERT INTO ${meta} (name, value) VALUES (${"secret"}, ${own})`
      }
      const prints = yield* sql<{ readonly value: string }>`SELECT value FROM ${meta} WHERE name = ${"keys"}`
      const keyPrints: ReadonlyArray<string> = prints[0] === undefined ? [] : JSON.parse(prints[0].value)
      return { poolId, own, keyPrints }
    })).pipe(Effect.retry({ times: 5 }), Effect.mapError(storeError("open pool")))
    // the runners of a store share a key: a runner whose configured keys share none with those of the runner that
    // opened the store last (or that has none, when that one had) would reject their tokens, and they its own
    const prints = configured.map(fingerprint)
    if (keyPrints.length > 0 && !prints.some((print) => keyPrints.includes(print))) {
      return yield* new StoreError({
        operation: "open",
        reason: "key",
        detail: prints.length === 0
          ? "ASYNC_JOB_DURABLE_SECRET is not set, but the store's runners sign resume tokens with configured keys"
          : "none of the keys in ASYNC_JOB_DURABLE_SECRET is one the store's runners use: to change keys, give " +
            "every runner the new key beside the old one first (see the README's Resume tokens)"
      })
    }
    if (prints.length > 0) {
      yield* sql`INSERT INTO ${meta} (name, value) VALUES (${"keys"}, ${JSON.stringify(prints)})
        ON CONFLICT (name) DO UPDATE SET value = ${JSON.stringify(prints)}`.pipe(
        Effect.mapError(storeError("open pool"))
      )
    }
    const keys = keysOf(configured, own)

    const hub = yield* PubSub.unbounded<string>()
    const forgetInEngine = yield* engineForgetter(() => self.definitions)
    if (Option.isSome(pg)) {
      // each job id notified on the channel, by any runner. The queue fails once the listening connection is lost
      // (a restart of the server, a terminated backend): listen again on a new connection, and then tell every wait
      // to read its job again, for the notifications sent meanwhile are lost
      let listened = false
      yield* Effect.scoped(Effect.gen(function*() {
        const notifications = yield* pg.value.listen(CHANNEL)
        if (listened) yield* PubSub.publish(hub, ANY_JOB)
        listened = true
        while (true) yield* PubSub.publish(hub, (yield* Queue.take(notifications)).payload)
      })).pipe(
        Effect.retry(LISTEN_RETRY),
        Effect.forkScoped
      )
    }

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
    const update = (
      operation: string,
      jobId: string,
      from: ReadonlyArray<State>,
      set: Record<string, unknown>,
      options?: { readonly notify?: boolean | undefined; readonly steps?: Steps | undefined }
    ) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const notify = options?.notify ?? true
        const steps = options?.steps ?? []
        const change = sql`UPDATE ${jobs} SET ${sql.update({ ...set, updated_at: now })}
          WHERE job_id = ${jobId} AND ${sql.in("state", from)}`
        // the change and its notification in one statement on Postgres (the listener above publishes it here too)
        const write = !notify || Option.isNone(pg)
          ? change
          : sql`WITH changed AS (${change} RETURNING job_id) SELECT pg_notify(${CHANNEL}, job_id) FROM changed`
        // the steps the run took, journaled with it: one commit
        const journaled = steps.map(([index, step]) => ({
          job_id: jobId,
          step: index,
          kind: step.kind,
          name: step.name
        }))
        yield* !Arr.isArrayNonEmpty(journaled) ? write : sql.withTransaction(Effect.andThen(
          sql`INSERT INTO ${stepsTable} ${sql.insert(journaled)} ON CONFLICT (job_id, step) DO NOTHING`,
          write
        ))
        if (notify && Option.isNone(pg)) yield* PubSub.publish(hub, jobId)
      }).pipe(Effect.mapError(storeError(operation)))

    const self: Ledger = {
      [TypeId]: TypeId,
      name,
      poolId,
      keys,
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
          // one statement takes the slot and records the job, if the job is new and the pool has room
          const now = yield* Clock.currentTimeMillis
          const admitted = yield* sql<RawRow>`INSERT INTO ${jobs}
            (job_id, pool, pool_id, kind, seq, version, state, tokens, payload, created_at, updated_at)
            SELECT ${jobId}, ${name}, CAST(${poolId} AS INTEGER), ${kind}, next.seq, CAST(${version} AS INTEGER),
              ${"starting"}, ${"[]"}, ${JSON.stringify(payload)}, CAST(${now} AS BIGINT), CAST(${now} AS BIGINT)
            FROM (SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM ${jobs}) AS next
            WHERE NOT EXISTS (SELECT 1 FROM ${jobs} WHERE job_id = ${jobId})
              AND (
                (SELECT max_size FROM ${pools} WHERE name = ${name}) = 0
                OR (SELECT count(*) FROM ${jobs} WHERE pool = ${name} AND state <> ${"ended"})
                  < (SELECT max_size FROM ${pools} WHERE name = ${name})
              )
            RETURNING *`
          if (admitted[0] !== undefined) return rowOf(admitted[0])
          // not admitted: the job exists, or the pool is full
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
          return yield* noJobs(poolId, yield* maxSize, yield* counts)
        })).pipe(
          Effect.catchTag("SqlError", (error) => Effect.fail(storeError("start")(error))),
          Effect.tap(() => guard)
        ),
      // the payload was kept to complete a start cut short: once a run begins, the engine holds it, and the ledger
      // keeps no second copy of a job's input
      begin: (jobId, versions) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const begun = yield* sql<RawRow>`UPDATE ${jobs}
            SET state = ${"running"}, tokens = ${"[]"}, diverged = NULL, payload = ${"null"}, updated_at = ${now}
            WHERE job_id = ${jobId} AND ${sql.in("state", ["starting", "running", "paused"])}
              AND version >= ${versions.min} AND version <= ${versions.max}
            RETURNING *`
          return begun[0] === undefined ? { begun: false as const, row: yield* get(jobId) } : {
            begun: true as const,
            row: rowOf(begun[0])
          }
        }).pipe(Effect.mapError(storeError("run")), Effect.tap(() => guard)),
      running: (jobId) =>
        update("run", jobId, ["starting", "paused", "diverged"], {
          state: "running",
          tokens: "[]",
          diverged: null
        }, { notify: false }),
      paused: (jobId, tokens, steps) =>
        update("pause", jobId, ["starting", "running", "paused"], { state: "paused", tokens: JSON.stringify(tokens) }, {
          steps
        }),
      ended: (jobId, exit, steps) =>
        update("end", jobId, live, { state: "ended", tokens: "[]", exit: JSON.stringify(exit), diverged: null }, {
          steps
        }),
      diverged: (jobId, divergence, steps) =>
        update("diverge", jobId, live, { state: "diverged", tokens: "[]", diverged: JSON.stringify(divergence) }, {
          steps
        }),
      steps: (jobId) =>
        sql<{ readonly kind: JournalStep["kind"]; readonly name: string }>`SELECT kind, name FROM ${stepsTable}
          WHERE job_id = ${jobId} ORDER BY step`.pipe(
          Effect.map((rows) => rows.map(({ kind, name }): JournalStep => ({ kind, name }))),
          Effect.mapError(storeError("replay")),
          Effect.tap(() => guard)
        ),
      get: (jobId) => Effect.tap(Effect.mapError(get(jobId), storeError("read")), () => guard),
      startingOf: (kind) =>
        sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind} AND state = ${"starting"}`.pipe(
          Effect.map((rows) => rows.map(rowOf)),
          Effect.mapError(storeError("recover"))
        ),
      stale: (kind, olderThan) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind}
            AND ${sql.in("state", ["starting", "running"])} AND updated_at < ${now - Duration.toMillis(olderThan)}`)
          .pipe(
            Effect.map((rows) =>
              rows.map(rowOf)
            ),
            Effect.mapError(storeError("sweep"))
          ),
      retiredOf: (kind, minVersion) =>
        sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind} AND state = ${"paused"}
          AND version < ${minVersion}`.pipe(
          Effect.map((rows) => rows.map(rowOf)),
          Effect.mapError(storeError("recover"))
        ),
      divergedOf: (kind) =>
        sql<RawRow>`SELECT * FROM ${jobs} WHERE pool = ${name} AND kind = ${kind} AND state = ${"diverged"}`.pipe(
          Effect.map((rows) => rows.map(rowOf)),
          Effect.mapError(storeError("recover"))
        ),
      changes: PubSub.subscribe(hub),
      recheck: RECHECK,
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
          const byAge = before === Number.NEGATIVE_INFINITY ? sql`1 = 0` : sql`updated_at <= ${before}`
          // the ended jobs beyond the `keep` that ended last (ties: the later started stays)
          const byCount = keep === undefined ? sql`1 = 0` : sql`job_id NOT IN (
            SELECT job_id FROM ${jobs} WHERE pool = ${name} AND state = ${"ended"}
            ORDER BY updated_at DESC, seq DESC LIMIT ${keep})`
          const purged = yield* sql<{ readonly job_id: string; readonly kind: string }>`DELETE FROM ${jobs}
            WHERE pool = ${name} AND state = ${"ended"} AND (${byAge} OR ${byCount}) RETURNING job_id, kind`
          if (purged.length > 0) {
            yield* sql`DELETE FROM ${stepsTable} WHERE ${sql.in("job_id", purged.map((row) => row.job_id))}`
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
    return register(self)
  })
