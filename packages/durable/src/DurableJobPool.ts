/**
 * The durable job pool: where durable jobs run, and how many may be
 * outstanding at once.
 *
 * A layer of this module provides two services: a `WorkflowEngine` (from
 * `effect/workflow`), which runs the jobs and journals their activities and
 * pauses, and the {@link DurableJobPool}, which bounds how many jobs are
 * outstanding (started and not yet ended) and answers a typed `NoJobsError`
 * when the bound is reached, like `ASYNC_start_job`'s `ASYNC_NO_JOBS`.
 *
 * | layer | engine | survives | resumable from |
 * | --- | --- | --- | --- |
 * | {@link layerMemory} | `WorkflowEngine.layerMemory` | nothing: jobs die with the process | this process |
 * | {@link layerSqlite} | `SingleRunner` over a SQLite file | `kill -9` and restarts | any process that opens the file after it |
 * | {@link layerCluster} | `ClusterWorkflowEngine` over your `Sharding` and `SqlClient` (Postgres) | runner crashes | any runner on the database |
 *
 * @since 0.1.0
 */
import type { PoolStats as CorePoolStats } from "@async-job/core/JobPool"
import * as ClusterWorkflowEngine from "effect/cluster/ClusterWorkflowEngine"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SingleRunner from "effect/cluster/SingleRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import type * as Config from "effect/Config"
import type * as Context from "effect/Context"
import * as Digest from "effect/crypto/Digest"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import * as WorkflowEngine from "effect/workflow/WorkflowEngine"
import type { StoreError } from "./Errors.js"
import * as internal from "./internal/pool.js"

/**
 * The brand of durable pools: a pool carries it as a key.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.TypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The limits of a pool.
 *
 * **Details**
 *
 * - `maxSize`: the most durable jobs outstanding at once, counted across every
 *   runner that shares the store. Omitted or 0: unbounded, as in OpenSSL. On
 *   SQL stores the bound is stored in the database, and every runner enforces
 *   the stored value. Of `maxSize` and {@link DurableJobPool.setMaxSize}, the
 *   later change wins: a runner whose `maxSize` differs from the one the
 *   runners were last given writes it when its layer builds (the
 *   configuration changed); a runner given the same `maxSize` again, or none,
 *   keeps the stored bound, also one that `setMaxSize` set since.
 * - `name`: pools with different names on one store count separately.
 *   Default `"default"`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxSize?: number | undefined
  readonly name?: string | undefined
  /**
   * How long ended jobs stay listed and pollable: when given, the layer
   * purges older ones as it builds and then once per `retention`, at least
   * once a minute and at most once a second (see
   * {@link DurableJobPool.purge}). Default: kept forever.
   */
  readonly retention?: Duration.Input | undefined
  /**
   * The most ended jobs kept: when given, the layer purges the ended jobs
   * beyond it, those that ended first, as it builds and then every second
   * (with `retention`, the same sweep applies both). Default: no bound.
   *
   * @since 0.2.0
   */
  readonly maxRetained?: number | undefined
  /**
   * Whether the sweep of `retention` and `maxRetained` also deletes the purged
   * jobs' workflows from the engine's store (see {@link PurgeOptions}).
   * Default `false`.
   *
   * @since 0.2.0
   */
  readonly purgeEngine?: boolean | undefined
}

/**
 * Options of {@link DurableJobPool.purge}.
 *
 * @since 0.2.0
 * @category models
 */
export interface PurgeOptions {
  /**
   * Keeps at most this many ended jobs, those that ended last: the others are
   * purged whatever their age. Default: no bound.
   */
  readonly keep?: number | undefined
  /**
   * Deletes the purged jobs' workflows from the engine's store too (their
   * messages, journaled activities, signals and replies: on SQL stores, the
   * `cluster_messages` and `cluster_replies` rows of each job), so that an
   * ended job takes no room at all once purged. Starting a job again under a
   * purged id then runs it again. Default `false`: the engine keeps them, and
   * a start under a purged id answers the result it journaled. A pool whose
   * engine keeps no store of its own (`layerMemory`) has nothing more to
   * delete.
   */
  readonly engine?: boolean | undefined
}

/**
 * A snapshot of a pool's counts: core's `PoolStats`, counted in the ledger
 * across every runner. A durable job's record is its ledger row: `created`
 * counts the rows kept (every job started, until retention removes an ended
 * one), `idle` the ended ones, `running` the jobs executing somewhere (or being
 * started), `paused` the jobs waiting for a signal (and the `diverged` ones,
 * which wait for a deploy or a cancel).
 *
 * @since 0.1.0
 * @category models
 */
export type PoolStats = CorePoolStats

/**
 * The service: a ledger of the pool's jobs. `DurableJob.start` takes a slot
 * and records the job in the same transaction; the job's runs record where it
 * is (running, paused on which tokens, ended with which exit), and its slot
 * is given back as its workflow scope closes (finished, failed or cancelled),
 * so a slot is held across pauses, restarts and runners.
 *
 * @since 0.1.0
 * @category models
 */
export interface DurableJobPool {
  readonly [TypeId]: TypeId
  readonly name: string
  /** The pool's number in its store (the `poolId` of its errors). */
  readonly poolId: number
  /** The counts now (from the shared store for SQL pools). */
  readonly stats: Effect.Effect<PoolStats, StoreError>
  /** The bound now (stored in the database for SQL pools); 0 means unbounded. */
  readonly maxSize: Effect.Effect<number, StoreError>
  /**
   * Changes the bound for every runner on the store. Jobs already outstanding
   * are not touched; a lower bound refuses starts until enough have ended.
   */
  readonly setMaxSize: (maxSize: number) => Effect.Effect<void, StoreError>
  /** The ids of the jobs that hold a slot now: started, not yet ended, on any runner; oldest first. */
  readonly outstandingIds: Effect.Effect<ReadonlyArray<string>, StoreError>
  /**
   * The pool's jobs, oldest first, a page at a time: pass the page's `next`
   * as `after` for the following page (`undefined` once there is none).
   */
  readonly list: (options?: ListOptions) => Effect.Effect<JobPage, StoreError>
  /**
   * Forgets the ended jobs that ended at least `olderThan` ago (and, with
   * `keep`, those beyond the `keep` that ended last); answers how many. A
   * forgotten job's id answers `JobNotFoundError` to `poll`; starting it
   * again answers the result the engine journaled, and runs nothing (unless
   * `engine` deleted it there too: see {@link PurgeOptions}).
   */
  readonly purge: (olderThan: Duration.Input, options?: PurgeOptions) => Effect.Effect<number, StoreError>
}

/**
 * One job as {@link DurableJobPool.list} shows it. `starting`: its slot is
 * taken and its first run has not begun. `diverged`: a replay of the job's
 * journal met a step other than the one journaled (code changed without a
 * version guard); the job is suspended and holds its slot until code that
 * replays it is deployed or it is cancelled (see `JobDivergedError`).
 *
 * @since 0.1.0
 * @category models
 */
export interface JobInfo {
  readonly jobId: string
  /** The job's definition (`DurableJob.make`'s `name`). */
  readonly kind: string
  /** The job's number in the store (the `jobId` of core's errors). */
  readonly seq: number
  readonly state: "starting" | "running" | "paused" | "diverged" | "ended"
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** Epoch milliseconds of the last change (for an ended job: when it ended). */
  readonly updatedAt: number
}

/**
 * Options of the pool's `list`: which jobs, and which page.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  /** Only jobs in these states; default all. */
  readonly states?: ReadonlyArray<JobInfo["state"]> | undefined
  /** The `next` of the previous page. */
  readonly after?: number | undefined
  /** Jobs per page, 1 to 1000; default 100. */
  readonly limit?: number | undefined
}

/**
 * One page of the pool's `list`: its jobs, and the cursor of the next page.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobPage {
  readonly jobs: ReadonlyArray<JobInfo>
  /** The cursor of the next page; `undefined` on the last one. */
  readonly next: number | undefined
}

/**
 * The pool's service key, which `DurableJob`'s functions read the pool from.
 *
 * @since 0.1.0
 * @category services
 */
export const DurableJobPool: Context.Service<DurableJobPool, DurableJobPool> = internal.tag

/**
 * In memory: `WorkflowEngine.layerMemory` and an in-process ledger. For tests,
 * examples and jobs that need the durable vocabulary (resume tokens, journaled
 * activities) but not durability.
 *
 * @param options - The pool's limits; omitted, the pool is unbounded.
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: Options): Layer.Layer<DurableJobPool | WorkflowEngine.WorkflowEngine> =>
  Layer.merge(Layer.effect(DurableJobPool, internal.makeMemory(options)), WorkflowEngine.layerMemory)

/**
 * A pool whose ledger lives in the database of the `SqlClient` in context
 * (tables `async_job_durable_jobs`, `async_job_durable_pools` and
 * `async_job_durable_meta`, created if missing). Combine it with a SQL-backed
 * `WorkflowEngine`; {@link layerSqlite} and {@link layerCluster} do. With a
 * `PgClient` in context, runners wake each other's waits through Postgres
 * `LISTEN`/`NOTIFY` (a lost `LISTEN` connection is replaced, and every wait
 * then reads its job again); over other databases, a wait is woken at once
 * only by changes made in its own process. In every case a wait also reads
 * its job again every 2 s without a wake-up, and rides out an outage of the
 * database (its reads are tried again until it answers). Every runner sweeps
 * the ledger every 5 s for its kinds' jobs that nothing moves (a start cut
 * short by a crash, an end the ledger missed): see the README's Store faults.
 *
 * @param options - The pool's limits; omitted, the pool is unbounded.
 * @since 0.1.0
 * @category layers
 */
export const layerSqlPool = (options?: Options): Layer.Layer<DurableJobPool, StoreError, SqlClient.SqlClient> =>
  Layer.effect(DurableJobPool, internal.makeSql(options))

/**
 * The durable engine of `effect/cluster` over the sharding and message
 * storage in context, with the ledger in the database of the `SqlClient` in
 * context. For several runners, provide `Sharding` from a runner layer over
 * Postgres (for instance `NodeClusterSocket.layer` of
 * `@effect/platform-node` with `storage: "byo"` over {@link
 * layerClusterStorage}, or with `storage: "sql"`).
 *
 * **Gotchas**
 *
 * Give each runner its own address: `runnerAddress` of the sharding config is
 * an `Option` (`Option.some(RunnerAddress.make(host, port))`); the other
 * runners reach this one there. Two runners on one Postgres are tested in
 * `test/Postgres.test.ts` (cross-runner read, signal and cancel, and the
 * `NoJobsError` bound across runners).
 *
 * @param options - The pool's limits; omitted, the pool is unbounded.
 * @since 0.1.0
 * @category layers
 */
export const layerCluster = (
  options?: Options
): Layer.Layer<
  DurableJobPool | WorkflowEngine.WorkflowEngine,
  StoreError,
  Sharding.Sharding | MessageStorage.MessageStorage | SqlClient.SqlClient
> => Layer.merge(layerSqlPool(options), ClusterWorkflowEngine.layer)

/**
 * The storage of a cluster runner on the `SqlClient` in context: the messages
 * (`SqlMessageStorage`) and the runners and shard locks (`SqlRunnerStorage`)
 * of `effect/cluster`, as `storage: "sql"` of `NodeClusterSocket.layer`
 * builds them (with the digests of `crypto.subtle`). Provide it to a runner
 * layer with `storage: "byo"`, with the same `shardingConfig`.
 *
 * @example
 * ```ts
 * import * as DurableJobPool from "@async-job/durable/DurableJobPool"
 * import { NodeClusterSocket } from "@effect/platform-node"
 * import * as PgClient from "@effect/sql-pg/PgClient"
 * import * as RunnerAddress from "effect/cluster/RunnerAddress"
 * import * as Layer from "effect/Layer"
 * import * as Option from "effect/Option"
 * import * as Redacted from "effect/Redacted"
 *
 * const shardingConfig = {
 *   runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", 34431))
 * }
 * export const Durable = DurableJobPool.layerCluster({ maxSize: 100 })
 *   .pipe(
 *     Layer.provide(
 *       NodeClusterSocket.layer({ storage: "byo", shardingConfig })
 *     ),
 *     Layer.provide(
 *       DurableJobPool.layerClusterStorage(shardingConfig)
 *     ),
 *     Layer.provideMerge(
 *       PgClient.layer({
 *         url: Redacted.make("postgres://localhost/jobs")
 *       })
 *     )
 *   )
 * ```
 *
 * @param shardingConfig Overrides of the runner's sharding settings, the same as given to the runner layer.
 * @since 0.1.0
 * @category layers
 */
export const layerClusterStorage = (
  shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]>
): Layer.Layer<
  MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
  SqlError | Config.ConfigError,
  SqlClient.SqlClient
> =>
  Layer.merge(SqlMessageStorage.layer, SqlRunnerStorage.layer).pipe(
    Layer.provide([ShardingConfig.layerFromEnv(shardingConfig), Digest.layerWebCrypto])
  )

/**
 * Options of {@link layerSqlite}: the pool's limits, the SQLite file, and the runner's sharding overrides.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions extends Options {
  /**
   * The SQLite file; created if missing, unless a store was there before
   * (see `create`).
   */
  readonly filename: string
  /**
   * Whether to create a new, empty store when the file is missing although a
   * store was there before (the file beside it, `<filename>-durable`, says so):
   * by default such a file is refused with `StoreError` (`missing`), for a store
   * deleted between runs would otherwise come back empty, its jobs gone.
   * Default `false`.
   *
   * @since 0.2.0
   */
  readonly create?: boolean | undefined
  /** Overrides of the single runner's sharding configuration. */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
}

/**
 * The embedded durable engine: a single runner of `effect/cluster` whose
 * messages, replies (the journal of activities and pauses) and pool ledger live
 * in one SQLite file.
 *
 * **Details**
 *
 * Jobs survive `kill -9`: a new process opened on the same file continues
 * every job that was running (replaying its journal, so finished activities
 * are not run again) and can resume, poll, signal and cancel every paused one.
 *
 * **Storage faults** are typed (`StoreError`): a missing directory, a file
 * that is not a SQLite database, a read-only file or directory, or a file
 * gone from where a store was (see `create`) fail the layer as it builds; a
 * file deleted or replaced while in use fails every later operation
 * (`reason: "replaced"`) instead of answering from a new, empty file; a full
 * disk fails the operation that met it (`reason: "full"`), and the store goes
 * on once space is freed (a job's run waits for it).
 *
 * **Gotchas**
 *
 * One process at a time per file: the runner keeps its shard assignment in
 * memory (so a restart does not wait for a dead runner's locks to expire).
 * The file is locked to the process that opens it, until that process ends
 * (`kill -9` too): another process that opens it is refused
 * (`reason: "in-use"`). For several processes at once, use
 * {@link layerCluster} over Postgres.
 *
 * @param options - The pool's limits, the SQLite file and the sharding overrides.
 * @since 0.1.0
 * @category layers
 */
export const layerSqlite = (
  options: SqliteOptions
): Layer.Layer<DurableJobPool | WorkflowEngine.WorkflowEngine, StoreError | Config.ConfigError> =>
  Layer.unwrap(Effect.as(
    internal.checkSqliteFile(options.filename, options.create),
    Layer.merge(
      Layer.effect(
        DurableJobPool,
        Effect.flatMap(internal.guardSqliteFile(options.filename), (guard) => internal.makeSql(options, guard))
      ),
      ClusterWorkflowEngine.layer
    ).pipe(
      Layer.provide(SingleRunner.layer({
        runnerStorage: "memory",
        // one process: its messages are not sent anywhere, so they are not serialized for the trip either
        shardingConfig: { simulateRemoteSerialization: false, ...options.shardingConfig }
      })),
      Layer.provide(Digest.layerWebCrypto),
      Layer.provideMerge(internal.layerSqliteClient(options.filename))
    )
  ))
