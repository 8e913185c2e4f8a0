/**
 * The service's jobs in durable mode (`DURABLE=sqlite:<file>`): every
 * accepted `POST /jobs` is a durable job of `@async-job/durable`, journaled in
 * the SQLite file, so that a job paused on the engine survives `kill -9` of
 * the service, finishes after a restart, and `GET /jobs/:id` serves its result.
 * With `DURABLE=postgres://…` ({@link layerPostgres}) every service process on
 * the database is a cluster runner, and any of them serves any job.
 *
 * **Details**
 *
 * A job's body submits its operation to the {@link CryptoEngine.CryptoEngine}
 * (an activity named after this process's boot, see below) and pauses on its
 * `engine` wait fd; the engine's completion callback signals the job's token
 * with the outcome, and the job finishes with it.
 *
 * The engine is in-process: a request in flight dies with the process. So on
 * start, the service resumes every job outstanding in the file; each replays
 * to its pause and, since its submit activity is named after the boot,
 * submits its operation again to the new engine. Within one boot the submit is
 * journaled and runs once. Its name changes between boots on purpose, so it
 * is left out of the check of replays against the journal
 * (`DurableJob.unchecked`).
 *
 * These layers are the same `Jobs` service as the in-memory `Jobs.layer`, run
 * by the same contract suite (`test/fixtures/jobsContract.ts`). What differs,
 * on purpose:
 *
 * - jobs are not cancelled at shutdown (they outlive the process: that is the
 *   point);
 * - cancelling a job does not drop its engine request: the request belongs to
 *   the process that submitted it, while the cancel may come from any runner;
 *   its late answer signals a cancelled job, which changes nothing;
 * - ended jobs are kept in the store, under the same retention as in memory:
 *   `RESULT_TTL` after they ended and at most `RESULT_MAX` of them (the
 *   store's sweep, once a second to once a minute, forgets the rest in the
 *   job table and in the engine's messages alike; `RESULT_MAX_BYTES` bounds
 *   memory, and a durable job's result is on disk), and the pool counts come
 *   from the store: `created` counts the jobs kept there, `idle` the ended
 *   ones (the in-memory pool reuses an ended job for the next, so there
 *   `created` stops growing at the bound);
 * - a job's input is stored once, in the engine's message that starts its
 *   workflow (the job table keeps it only until that message is stored);
 * - a job started by another version of the service that this one cannot
 *   replay (`JobDivergedError`) answers `GET` and `cancel` with that error;
 *   `cancel` with `discard` cancels it, which gives its slot back;
 * - `finished` and `failed` count the jobs this process ran to their end (on
 *   Postgres: the jobs its runner ran, whichever process accepted them),
 *   `cancelled` the jobs cancelled through it, `noJobs` the starts it refused.
 */
import * as DurableJob from "@async-job/durable/DurableJob"
import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import type { StoreError } from "@async-job/durable/Errors"
import * as Cause from "effect/Cause"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Activity from "effect/workflow/Activity"
import type { WorkflowEngine } from "effect/workflow/WorkflowEngine"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import { ServiceConfig } from "../config.js"
import { CryptoEngine } from "../engine/CryptoEngine.js"
import { EngineError } from "../engine/EngineError.js"
import * as Operation from "../engine/Operation.js"
import {
  JobDivergedError,
  JobEndedError,
  JobNotFoundError,
  Jobs as JobsTag,
  type JobView,
  ShuttingDownError
} from "./Jobs.js"
import type { Jobs } from "./Jobs.js"

/**
 * The durable job: one operation offloaded to the engine.
 */
export const Offload = DurableJob.make({
  name: "offload-service/Offload",
  // the service's id starts with the operation (`sha256.<uuid>`), so a view can be made from the id alone
  payload: { id: Schema.String, request: Schema.Unknown },
  success: Operation.Result,
  error: EngineError,
  waits: { engine: Schema.Result(Operation.Result, EngineError) },
  jobId: ({ id }) => id
})

/** Different in every process: a restart submits the operation again. */
const boot = Crypto.randomUUID()

const isOp = (name: string): name is Operation.Op => (Operation.ops as ReadonlyArray<string>).includes(name)

const opOf = (id: string): Option.Option<Operation.Op> => {
  const op = id.slice(0, id.lastIndexOf("."))
  return isOp(op) ? Option.some(op) : Option.none()
}

const errorOf = (cause: Cause.Cause<EngineError>) => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return { tag: failure.value._tag, message: failure.value.message }
  const defect = Cause.squash(cause)
  return { tag: "InternalError", message: defect instanceof Error ? defect.message : String(defect) }
}

const viewOf = (id: string, op: Operation.Op, status: DurableJob.JobStatus<Operation.Result, EngineError>): JobView => {
  switch (status._tag) {
    case "Running":
      return { id, op, state: "running" }
    case "Paused":
      return { id, op, state: "paused" }
    case "Finished":
      return { id, op, state: "finished", result: status.value }
    case "Failed":
      return { id, op, state: "failed", error: errorOf(status.cause) }
    case "Cancelled":
      return { id, op, state: "cancelled" }
  }
}

/** What this process saw end: the jobs its runner ran to their end, and those it cancelled. */
interface Ends {
  finished: number
  failed: number
  cancelled: number
}

/**
 * The job's body. It counts its own end, in the process that runs it (a body
 * that ended is not run again; a paused one replays to its pause and is
 * counted once, where it ends).
 */
const body = (ends: Ends) =>
  Effect.fnUntraced(
    function*(payload: { readonly request: unknown }) {
      const engine = yield* CryptoEngine
      const runFork = Effect.runForkWith(yield* Effect.context<WorkflowEngine | DurableJobPool.DurableJobPool>())
      const request = yield* Effect.orDie(Operation.decodeRequest(payload.request))
      const token = yield* DurableJob.token(Offload, "engine")
      // named after the boot on purpose, so left out of the replay's check against the journal
      yield* DurableJob.unchecked(Activity.make({
        name: `submit/${boot}`,
        execute: Effect.sync(() => {
          engine.submitUnsafe(request, (exit) => {
            // the engine fails a request with an EngineError, never with a defect
            const outcome = Exit.isSuccess(exit)
              ? Result.succeed(exit.value)
              : Result.fail(Option.getOrThrow(Cause.findErrorOption(exit.cause)))
            runFork(Effect.ignore(DurableJob.signal(token, outcome), { log: "Debug" }))
          })
        })
      }))
      const outcome = yield* DurableJob.pause(Offload, "engine")
      return yield* Effect.fromResult(outcome)
    },
    Effect.tap(() => Effect.sync(() => ends.finished++)),
    Effect.tapError(() => Effect.sync(() => ends.failed++))
  )

/**
 * Builds the service over the durable pool in context; `ends` is what the
 * job bodies of this process count (see {@link layerOn}).
 */
const make = (ends: Ends) =>
  Effect.gen(function*() {
    const pool = yield* DurableJobPool.DurableJobPool
    const context = yield* Effect.context<WorkflowEngine | DurableJobPool.DurableJobPool>()
    let accepting = true
    let noJobs = 0

    /** The durable job id of a service id (a digest of it). */
    const jobIdOf = (id: string) => DurableJob.jobId(Offload, { id, request: undefined })

    const lookup = (
      id: string
    ): Effect.Effect<JobView, JobNotFoundError | JobDivergedError, DurableJobPool.DurableJobPool> =>
      Option.match(opOf(id), {
        onNone: () => Effect.fail(new JobNotFoundError({ id })),
        onSome: (op) =>
          Effect.flatMap(jobIdOf(id), (jobId) => DurableJob.poll(Offload, jobId)).pipe(
            Effect.map((status) => viewOf(id, op, status)),
            Effect.catchTags({
              JobNotFoundError: () => Effect.fail(new JobNotFoundError({ id })),
              // started by another version of the service: suspended until one that replays it runs, or cancelled
              JobDivergedError: (error) => Effect.fail(new JobDivergedError({ id, reason: error.reason }))
            }),
            // another kind or pool under a service id, or a broken store: nothing a client can fix
            Effect.catchTag(["JobKindError", "ForeignJobError", "StoreError"], Effect.die)
          )
      })

    const start = (request: Operation.Request, wait: boolean) =>
      Effect.gen(function*() {
        if (!accepting) return yield* new ShuttingDownError()
        const id = `${request.op}.${Crypto.randomUUID()}`
        const step = yield* DurableJob.start(Offload, { id, request }).pipe(
          Effect.flatMap((step) =>
            wait && step._tag === "Paused" ? DurableJob.resume(Offload, step) : Effect.succeed(step)
          ),
          Effect.tapErrorTag("NoJobsError", () => Effect.sync(() => noJobs++)),
          Effect.catchTag(["JobNotFoundError", "StaleJobError"], () => Effect.void),
          Effect.catchTag(["JobKindError", "ForeignJobError", "JobDivergedError", "StoreError"], Effect.die),
          Effect.catchIf((error): error is EngineError => Schema.is(EngineError)(error), () => Effect.void)
        )
        if (step?._tag === "Finished") return viewOf(id, request.op, step)
        // a fresh id: neither forgotten (it has not ended) nor diverged (this code started it)
        return yield* Effect.orDie(lookup(id))
      }).pipe(Effect.provideContext(context))

    const cancel = (id: string, options?: { readonly discard?: boolean | undefined }) =>
      Effect.gen(function*() {
        // a diverged job is still running or paused as far as its journal goes: discarding it (cancelling it)
        // frees its slot; without `discard` it answers JobDivergedError, as `get` does
        const before = yield* Effect.catchTag(
          lookup(id),
          "JobDivergedError",
          (error) =>
            options?.discard === true
              ? Effect.succeed<JobView>({ id, op: Option.getOrThrow(opOf(id)), state: "paused" })
              : Effect.fail(error)
        )
        if (before.state === "cancelled") return before
        if (before.state === "finished" || before.state === "failed") {
          return yield* new JobEndedError({ id, state: before.state })
        }
        const status = yield* DurableJob.cancel(Offload, yield* jobIdOf(id)).pipe(
          Effect.catchTag(
            "JobDivergedError",
            (error) => Effect.fail(new JobDivergedError({ id, reason: error.reason }))
          ),
          Effect.catchTag(["JobNotFoundError", "JobKindError", "ForeignJobError", "StoreError"], Effect.die)
        )
        const view = viewOf(id, before.op, status)
        // it ended on its own meanwhile
        if (view.state === "finished" || view.state === "failed") {
          return yield* new JobEndedError({ id, state: view.state })
        }
        ends.cancelled++
        return view
      }).pipe(Effect.provideContext(context))

    const jobs: Jobs = {
      submit: (request) => start(request, false),
      run: (request) => start(request, true),
      get: (id) => Effect.provideContext(lookup(id), context),
      cancel,
      stats: Effect.map(Effect.orDie(pool.stats), (stats) => ({ ...stats, ...ends, noJobs })),
      // no wait fds (a durable job waits on a token); the ended jobs are kept in the store
      housekeeping: Effect.map(
        Effect.orDie(pool.stats),
        (stats) => ({ fdCleanups: 0, retained: stats.idle, outstanding: stats.running + stats.paused, queuedBytes: 0 })
      ),
      isAccepting: Effect.sync(() => accepting),
      // durable jobs outlive the process: stop accepting, cancel nothing
      shutdown: Effect.sync(() => {
        accepting = false
        return 0
      })
    }

    // the engine's requests died with the previous process: replay every outstanding job, which submits again
    for (const id of yield* Effect.orDie(pool.outstandingIds)) yield* Offload.workflow.resume(id)
    return jobs
  })

/**
 * The durable jobs over a durable pool and its workflow engine: the job's
 * body registered with the pool, then the service.
 */
export const layerOn = <E, R>(
  durable: Layer.Layer<DurableJobPool.DurableJobPool | WorkflowEngine, E, R>
): Layer.Layer<Jobs, E | StoreError, R | CryptoEngine> =>
  Layer.unwrap(Effect.sync(() => {
    const ends: Ends = { finished: 0, failed: 0, cancelled: 0 }
    const registered = DurableJob.toLayer(Offload, body(ends)).pipe(Layer.provideMerge(durable))
    return Layer.effect(JobsTag, make(ends)).pipe(Layer.provide(registered))
  }))

/**
 * The durable pool's options from the configuration: the bound `POOL_MAX`,
 * and the retention of ended jobs (`RESULT_TTL`, `RESULT_MAX`), purged from
 * the engine's store too: a service id is a fresh UUID, never started again.
 */
const poolOptions = (config: ServiceConfig): DurableJobPool.Options => ({
  maxSize: config.poolMax,
  name: "offload-service",
  retention: config.resultTtl,
  maxRetained: config.resultMax,
  purgeEngine: true
})

/**
 * The durable jobs in memory (`DurableJobPool.layerMemory`), with the pool
 * bound `POOL_MAX`: the durable vocabulary without durability, for tests.
 */
export const layerMemory: Layer.Layer<Jobs, StoreError, ServiceConfig | CryptoEngine> = Layer.unwrap(
  Effect.map(ServiceConfig, (config) => layerOn(DurableJobPool.layerMemory(poolOptions(config))))
)

/**
 * The durable jobs over a SQLite file, with the pool bound `POOL_MAX` counted
 * in the file.
 */
export const layerSqlite = (filename: string): Layer.Layer<Jobs, unknown, ServiceConfig | CryptoEngine> =>
  Layer.unwrap(Effect.map(
    ServiceConfig,
    (config) => layerOn(DurableJobPool.layerSqlite({ ...poolOptions(config), filename }))
  ))

/** A free TCP port on `host` (the kernel's pick; another process may take it before the runner binds it). */
const freePort = (host: string) =>
  Effect.callback<number, Error>((resume) => {
    const server = Net.createServer()
    server.once("error", (error) => resume(Effect.fail(error)))
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/**
 * The address other runners reach this one at: `RUNNER_HOST` and
 * `RUNNER_PORT` (0: a free port picked at start).
 */
const runnerAddress = (config: ServiceConfig) =>
  Effect.map(
    config.runnerPort === 0 ? freePort(config.runnerHost) : Effect.succeed(config.runnerPort),
    (port) => RunnerAddress.make(config.runnerHost, port)
  )

/**
 * The durable jobs over Postgres: this process is a cluster runner
 * (`DurableJobPool.layerCluster`) at {@link runnerAddress}; every service
 * process on the same database shares the jobs (any of them reads, cancels
 * and resumes a job started by another) and the bound `POOL_MAX`. The
 * Postgres client and the cluster's sockets are loaded only here.
 */
export const layerPostgres = (url: string): Layer.Layer<Jobs, unknown, ServiceConfig | CryptoEngine> =>
  Layer.unwrap(Effect.gen(function*() {
    const config = yield* ServiceConfig
    const address = yield* runnerAddress(config)
    const [PgClient, NodeClusterSocket] = yield* Effect.promise(() =>
      Promise.all([import("@effect/sql-pg/PgClient"), import("@effect/platform-node/NodeClusterSocket")])
    )
    const shardingConfig = { runnerAddress: Option.some(address) }
    // the shard locks one at a time on their connection: no pg "already executing a query" warning
    const durable = DurableJobPool.layerCluster(poolOptions(config)).pipe(
      Layer.provide(NodeClusterSocket.layer({ storage: "byo", shardingConfig })),
      Layer.provide(DurableJobPool.layerClusterStorage(shardingConfig)),
      Layer.provideMerge(PgClient.layer({ url: Redacted.make(url) }))
    )
    return layerOn(durable)
  }))

/**
 * The service's durable jobs as a `DURABLE` value selects them:
 * `sqlite:<file>` ({@link layerSqlite}) or `postgres://…` / `postgresql://…`
 * ({@link layerPostgres}). Any other value is a configuration error.
 */
export const layerFor = (durable: string): Layer.Layer<Jobs, unknown, ServiceConfig | CryptoEngine> => {
  const [scheme, ...rest] = durable.split(":")
  if (scheme === "sqlite" && rest.length > 0) return layerSqlite(rest.join(":"))
  if (scheme === "postgres" || scheme === "postgresql") return layerPostgres(durable)
  return Layer.effect(JobsTag, Effect.die(new Error(`DURABLE must be sqlite:<file> or postgres://…, got ${durable}`)))
}
