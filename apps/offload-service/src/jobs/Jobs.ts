/**
 * The service's jobs: every accepted `POST /jobs` is one async job of
 * `@async-job/core`, run the way OpenSSL runs a job on an Intel QAT card.
 *
 * **Details**
 *
 * For each job the service:
 *
 * 1. makes a wait ctx in a scope of the job's own (closed when the job ends
 *    or is cancelled, which runs the cleanup of its wait fd);
 * 2. starts the job in the {@link JobPool.JobPool} through `AsyncJob.run`,
 *    forked into a `FiberMap` keyed by the job's id. A full pool refuses the
 *    job at once (`NoJobsError`): nothing is queued;
 * 3. inside the job: submits the operation to the {@link CryptoEngine.CryptoEngine}
 *    (`submitUnsafe`), registers an in-process `WaitFd` on the wait ctx, and
 *    pauses, again and again until the engine has answered (a resume is a
 *    hint, not a promise);
 * 4. the engine's completion callback signals the fd; `AsyncJob.run` sees the
 *    wait ctx ready and resumes the job, which finishes with the result.
 *
 * Cancelling a job interrupts its `AsyncJob.run`, which cancels the paused
 * job: the job's finalizer drops the engine request (`cancelUnsafe`), then the
 * job's scope closes its wait ctx, which runs the fd's cleanup.
 *
 * Ended jobs (finished, failed, cancelled) are kept for `resultTtl`, at
 * most `resultMax` of them and `resultMaxBytes` of their results and errors,
 * oldest forgotten first. An ended job keeps its id, operation and outcome
 * only: its input (up to 1 MiB of `data`) is dropped as soon as it ends.
 *
 * A `run` (`?wait=true`) whose caller is interrupted (its client
 * disconnected) cancels its job.
 *
 * Shutdown refuses new jobs at once, gives the outstanding ones up to
 * `shutdownGrace` to end, then cancels the rest.
 *
 * {@link Jobs} is the one interface the HTTP layer uses. This module's
 * {@link layer} and {@link layerConfig} are the in-memory jobs described
 * above; `DurableJobs` provides the same service over `@async-job/durable`
 * (and {@link layerFromEnv} picks one by `DURABLE`). One contract suite,
 * `test/fixtures/jobsContract.ts`, runs against both.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import type { JobTimeoutError, NoJobsError } from "@async-job/core/Errors"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import type * as WaitFd from "@async-job/core/WaitFd"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberMap from "effect/FiberMap"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import { CryptoEngine } from "../engine/CryptoEngine.js"
import type { EngineError } from "../engine/EngineError.js"
import { offload } from "./offload.js"
import * as Operation from "../engine/Operation.js"
import { ServiceConfig } from "../config.js"

export type JobState = Exclude<AsyncJob.JobState, "cancelling">

/**
 * Why a job failed, as the HTTP API reports it.
 */
export interface JobError {
  readonly tag: string
  readonly message: string
}

/**
 * A job as `GET /jobs/:id` shows it.
 */
export interface JobView {
  readonly id: string
  readonly op: Operation.Op
  readonly state: JobState
  readonly result?: Operation.Result
  readonly error?: JobError
}

/**
 * What `GET /stats` answers: the pool's counts now, and the jobs that ended
 * (by outcome) and were refused (`noJobs`) since the service started.
 */
export interface Stats {
  readonly maxSize: number
  readonly created: number
  readonly idle: number
  readonly running: number
  readonly paused: number
  readonly finished: number
  readonly failed: number
  readonly cancelled: number
  readonly noJobs: number
}

/**
 * Counters tests and operators use to see that cleanups ran.
 */
export interface Housekeeping {
  /** Wait fd cleanups run by closing wait ctxs (one per job that reached the engine). */
  readonly fdCleanups: number
  /** Ended jobs kept right now. */
  readonly retained: number
  /** Jobs running or paused right now. */
  readonly outstanding: number
}

/**
 * The service is shutting down and accepts no more jobs.
 */
export class ShuttingDownError extends Data.TaggedError("ShuttingDownError")<{}> {
  override get message(): string {
    return "the service is shutting down"
  }
}

/**
 * No job has this id: it never existed, or it ended and was forgotten.
 */
export class JobNotFoundError extends Data.TaggedError("JobNotFoundError")<{ readonly id: string }> {
  override get message(): string {
    return `no job ${this.id} (unknown, or ended and forgotten)`
  }
}

/**
 * The job ended (finished or failed) before it could be cancelled.
 */
export class JobEndedError extends Data.TaggedError("JobEndedError")<{
  readonly id: string
  readonly state: "finished" | "failed"
}> {
  override get message(): string {
    return `job ${this.id} has already ${this.state === "finished" ? "finished" : "failed"}`
  }
}

/**
 * The service's jobs, whichever layer provides them: in memory
 * ({@link layer}, {@link layerConfig}) or durable (`DurableJobs`).
 */
export interface Jobs {
  /**
   * Starts a job and answers once it has paused on the engine (its state is
   * then `paused`). Fails at once with `NoJobsError` when the pool is full.
   */
  readonly submit: (request: Operation.Request) => Effect.Effect<JobView, NoJobsError | ShuttingDownError>
  /** Starts a job and answers once it has ended. Interrupted while waiting, it cancels the job. */
  readonly run: (request: Operation.Request) => Effect.Effect<JobView, NoJobsError | ShuttingDownError>
  readonly get: (id: string) => Effect.Effect<JobView, JobNotFoundError>
  /**
   * Cancels a running or paused job and answers once it has unwound (engine
   * request dropped, wait fd cleaned up). A job already cancelled answers its
   * view again.
   */
  readonly cancel: (id: string) => Effect.Effect<JobView, JobNotFoundError | JobEndedError>
  readonly stats: Effect.Effect<Stats>
  readonly housekeeping: Effect.Effect<Housekeeping>
  /** Whether new jobs are still accepted. */
  readonly isAccepting: Effect.Effect<boolean>
  /**
   * Refuses new jobs from now on, gives the outstanding ones up to the
   * configured grace period to end, then cancels the rest, awaiting them.
   * Answers how many it cancelled. Idempotent.
   */
  readonly shutdown: Effect.Effect<number>
}

export const Jobs: Context.Service<Jobs, Jobs> = Context.Service<Jobs>("@async-job/offload-service/Jobs")

// ---------------------------------------------------------------------------
// metrics

const byOp = <A>(f: (op: Operation.Op) => A) =>
  Object.fromEntries(Operation.ops.map((op) => [op, f(op)])) as Record<Operation.Op, A>

const jobsStarted = byOp((op) =>
  Metric.counter("offload_jobs_started_total", {
    description: "Jobs started, by operation",
    incremental: true,
    attributes: { op }
  })
)

type Outcome = "finished" | "failed" | "cancelled"
const outcomes: ReadonlyArray<Outcome> = ["finished", "failed", "cancelled"]

const jobsEnded = byOp((op) =>
  Object.fromEntries(outcomes.map((outcome) => [
    outcome,
    Metric.counter("offload_jobs_ended_total", {
      description: "Jobs ended, by operation and outcome",
      incremental: true,
      attributes: { op, outcome }
    })
  ])) as Record<Outcome, Metric.Counter<number>>
)

const jobSeconds = byOp((op) =>
  Metric.histogram("offload_job_duration_seconds", {
    description: "From start to end of a job, by operation",
    boundaries: Metric.exponentialBoundaries({ start: 0.0005, factor: 2, count: 18 }),
    attributes: { op }
  })
)

const fdCleanupsMetric = Metric.counter("offload_wait_fd_cleanups_total", {
  description: "Wait fd cleanups run by closing job wait ctxs",
  incremental: true
})

const retainedMetric = Metric.gauge("offload_results_retained", { description: "Ended jobs kept for GET /jobs/:id" })

// ---------------------------------------------------------------------------
// implementation

interface Ended {
  readonly state: Outcome
  readonly result?: Operation.Result
  readonly error?: JobError
  readonly at: number
  /** what the record holds, roughly, in bytes (its strings' lengths plus a constant) */
  readonly bytes: number
}

/** A job's record: its id and operation, never its input (the job's body holds that while it runs). */
class Entry {
  job: AsyncJob.Job<unknown, unknown> | undefined = undefined
  ended: Ended | undefined = undefined
  waiters: Array<() => void> = []
  constructor(readonly id: string, readonly op: Operation.Op, readonly startedAt: number) {}
}

/** The bytes an ended record holds, roughly: its strings (2 bytes a unit at most) and some overhead. */
const recordBytes = (value: unknown): number => {
  if (typeof value === "string") return 2 * value.length
  if (typeof value !== "object" || value === null) return 8
  let bytes = 64
  for (const [key, field] of Object.entries(value)) bytes += 2 * key.length + recordBytes(field)
  return bytes
}

const view = (entry: Entry): JobView => {
  const ended = entry.ended
  if (ended !== undefined) {
    const out: { -readonly [K in keyof JobView]: JobView[K] } = {
      id: entry.id,
      op: entry.op,
      state: ended.state
    }
    if (ended.result !== undefined) out.result = ended.result
    if (ended.error !== undefined) out.error = ended.error
    return out
  }
  // between the job's end and its outcome being recorded (its wait ctx closing), it still counts as running
  const state = entry.job === undefined ? "running" : AsyncJob.stateUnsafe(entry.job)
  return { id: entry.id, op: entry.op, state: state === "paused" ? "paused" : "running" }
}

const errorOf = (cause: Cause.Cause<{ readonly _tag: string; readonly message: string }>): JobError => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return { tag: failure.value._tag, message: failure.value.message }
  const defect = Cause.squash(cause)
  return { tag: "InternalError", message: defect instanceof Error ? defect.message : String(defect) }
}

const isNoJobs = (
  cause: Cause.Cause<EngineError | NoJobsError | JobTimeoutError>
): cause is Cause.Cause<NoJobsError> =>
  Option.match(Cause.findErrorOption(cause), {
    onNone: () => false,
    onSome: (error) => error._tag === "NoJobsError"
  })

/**
 * Builds the service from the pool, engine and configuration in context.
 * Closing the scope cancels every outstanding job and awaits them.
 */
export const make: Effect.Effect<Jobs, never, Scope.Scope | JobPool.JobPool | CryptoEngine | ServiceConfig> = Effect
  .gen(function*() {
    const pool = yield* JobPool.JobPool
    const engine = yield* CryptoEngine
    const config = yield* ServiceConfig
    const clock = yield* Clock.Clock
    // the metrics' registry is the one in context when the service is built
    const context = yield* Effect.context<never>()
    const fibers = yield* FiberMap.make<string, unknown, unknown>()
    const entries = new Map<string, Entry>()
    /** ended entries, oldest first (insertion order) */
    const ended = new Map<string, Entry>()
    let endedBytes = 0
    const ttl = Duration.toMillis(config.resultTtl)
    let accepting = true
    let finished = 0
    let failed = 0
    let cancelled = 0
    let noJobs = 0
    let fdCleanups = 0

    const forget = (entry: Entry) => {
      entries.delete(entry.id)
      if (ended.delete(entry.id)) endedBytes -= entry.ended!.bytes
    }

    /** Forgets ended jobs beyond the count or the bytes, and those older than the ttl. */
    const sweep = () => {
      const now = clock.currentTimeMillisUnsafe()
      for (const entry of ended.values()) {
        const over = ended.size > config.resultMax || endedBytes > config.resultMaxBytes
        if (over || now - entry.ended!.at >= ttl) forget(entry)
        else break
      }
      retainedMetric.updateUnsafe(ended.size, context)
    }

    const cleanupFd: WaitCtx.Cleanup = ({ fd }) =>
      Effect.sync(() => {
        // an in-process fd holds no OS resource; consuming its signal is all there is to release
        ;(fd as WaitFd.InProcessWaitFd).clearUnsafe()
        fdCleanups++
        fdCleanupsMetric.updateUnsafe(1, context)
      })

    /** The job itself: submit, publish the fd, pause until the engine has answered. */
    const body = (
      entry: Entry,
      request: Operation.Request,
      ctx: WaitCtx.WaitCtx,
      started: Deferred.Deferred<void, NoJobsError | ShuttingDownError>
    ) =>
      offload(engine, request, ctx, {
        cleanup: cleanupFd,
        onSubmitted: (job) =>
          Effect.suspend(() => {
            entry.job = job
            jobsStarted[entry.op].updateUnsafe(1, context)
            return Deferred.succeed(started, undefined)
          })
      })

    const settle = (entry: Entry, started: Deferred.Deferred<void, NoJobsError | ShuttingDownError>) =>
    (
      // no timeout is given to AsyncJob.run: JobTimeoutError is in its type only
      exit: Exit.Exit<Operation.Result, EngineError | NoJobsError | JobTimeoutError>
    ): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (Exit.isFailure(exit) && isNoJobs(exit.cause)) {
          noJobs++
          forget(entry)
          return Deferred.failCause(started, exit.cause)
        }
        const now = clock.currentTimeMillisUnsafe()
        let record: Ended
        if (Exit.isSuccess(exit)) {
          finished++
          record = { state: "finished", result: exit.value, at: now, bytes: recordBytes(exit.value) }
        } else if (Cause.hasInterruptsOnly(exit.cause)) {
          cancelled++
          record = { state: "cancelled", at: now, bytes: recordBytes(undefined) }
        } else {
          failed++
          const error = errorOf(exit.cause)
          record = { state: "failed", error, at: now, bytes: recordBytes(error) }
        }
        entry.ended = record
        // the job's handle refers to its pool record; an ended job needs neither
        entry.job = undefined
        const op = entry.op
        jobsEnded[op][record.state].updateUnsafe(1, context)
        jobSeconds[op].updateUnsafe((now - entry.startedAt) / 1000, context)
        if (entries.has(entry.id)) {
          ended.set(entry.id, entry)
          endedBytes += record.bytes
          sweep()
        }
        const waiters = entry.waiters
        entry.waiters = []
        for (const wake of waiters) wake()
        // a job cancelled before its body ran never said it started (the error is made only then)
        return Deferred.isDoneUnsafe(started) ? Effect.void : Deferred.fail(started, new ShuttingDownError())
      })

    const start = (request: Operation.Request): Effect.Effect<Entry, NoJobsError | ShuttingDownError> =>
      Effect.gen(function*() {
        if (!accepting) return yield* new ShuttingDownError()
        const entry = new Entry(Crypto.randomUUID(), request.op, clock.currentTimeMillisUnsafe())
        const started = yield* Deferred.make<void, NoJobsError | ShuttingDownError>()
        entries.set(entry.id, entry)
        const job = Effect.scoped(
          Effect.flatMap(WaitCtx.make, (ctx) => AsyncJob.run(body(entry, request, ctx, started), { waitCtx: ctx }))
        ).pipe(
          Effect.provideService(JobPool.JobPool, pool),
          Effect.onExit(settle(entry, started))
        )
        yield* FiberMap.run(fibers, entry.id, job)
        yield* Deferred.await(started)
        return entry
      })

    const awaitEnd = (entry: Entry): Effect.Effect<JobView> =>
      Effect.callback<JobView>((resume) => {
        if (entry.ended !== undefined) return resume(Effect.succeed(view(entry)))
        const wake = () => resume(Effect.succeed(view(entry)))
        entry.waiters.push(wake)
        return Effect.sync(() => {
          entry.waiters = entry.waiters.filter((w) => w !== wake)
        })
      })

    const lookup = (id: string): Effect.Effect<Entry, JobNotFoundError> =>
      Effect.suspend(() => {
        sweep()
        const entry = entries.get(id)
        return entry === undefined ? Effect.fail(new JobNotFoundError({ id })) : Effect.succeed(entry)
      })

    const cancelled_ = (entry: Entry): Effect.Effect<JobView, JobEndedError> => {
      const state = entry.ended!.state
      return state === "cancelled"
        ? Effect.succeed(view(entry))
        : Effect.fail(new JobEndedError({ id: entry.id, state }))
    }

    const outstanding = () => entries.size - ended.size

    const shutdown = Effect.suspend(() => {
      accepting = false
      // interruptible: shutdown runs as a finalizer, where the timeout could not stop the wait otherwise
      return Effect.interruptible(FiberMap.awaitEmpty(fibers)).pipe(
        Effect.ignore,
        Effect.timeoutOption(config.shutdownGrace),
        Effect.andThen(Effect.suspend(() => {
          const left = outstanding()
          return Effect.as(FiberMap.clear(fibers), left)
        }))
      )
    })

    /** Awaits the job's end; interrupted (the caller went away), cancels the job. */
    const awaitOrCancel = (entry: Entry) =>
      Effect.onInterrupt(
        awaitEnd(entry),
        () => entry.ended === undefined ? FiberMap.remove(fibers, entry.id) : Effect.void
      )

    yield* Effect.addFinalizer(() => shutdown)
    // reads sweep too; this frees memory when nobody reads
    const sweepEvery = Duration.max(Duration.millis(10), Duration.min(config.resultTtl, Duration.seconds(1)))
    yield* Effect.forkScoped(Effect.repeat(Effect.sync(sweep), Schedule.spaced(sweepEvery)))

    const jobs: Jobs = {
      submit: (request) => Effect.map(start(request), view),
      // an interruption while the job starts takes effect once it has: the job is then cancelled, not left running
      run: (request) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(start(request), (entry) => restore(awaitOrCancel(entry)))
        ),
      get: (id) => Effect.map(lookup(id), view),
      cancel: (id) =>
        Effect.flatMap(lookup(id), (entry) =>
          entry.ended !== undefined
            ? cancelled_(entry)
            // interrupting the job's driver cancels the job and awaits its unwinding
            : Effect.andThen(FiberMap.remove(fibers, id), Effect.suspend(() => cancelled_(entry)))),
      stats: Effect.sync(() => ({ ...pool.statsUnsafe(), finished, failed, cancelled, noJobs })),
      housekeeping: Effect.sync(() => {
        sweep()
        return { fdCleanups, retained: ended.size, outstanding: outstanding() }
      }),
      isAccepting: Effect.sync(() => accepting),
      shutdown
    }
    return jobs
  })

export const layer: Layer.Layer<Jobs, never, JobPool.JobPool | CryptoEngine | ServiceConfig> = Layer.effect(Jobs, make)

/**
 * {@link layer} over a pool of its own, sized by the configuration
 * (`POOL_MAX`, `POOL_INIT`): the in-memory jobs as the service runs them.
 * Closing it cancels the outstanding jobs, then closes the pool.
 */
export const layerConfig: Layer.Layer<Jobs, never, CryptoEngine | ServiceConfig> = layer.pipe(
  Layer.provide(
    Layer.unwrap(
      Effect.map(ServiceConfig, (config) => JobPool.layer({ maxSize: config.poolMax, initSize: config.poolInit }))
    ).pipe(Layer.orDie) // ServiceConfig has validated the sizes
  )
)

/**
 * The service's jobs as `DURABLE` selects them: unset, the in-memory jobs
 * ({@link layerConfig}); `sqlite:<file>` or `postgres://…` /
 * `postgresql://…`, the durable ones (`DurableJobs.layerFor`), whose module,
 * and with it the durable store's driver, is loaded only then. Every choice
 * is the same `Jobs` service, so the HTTP layer has one code path.
 */
export const layerFromEnv: Layer.Layer<Jobs, never, CryptoEngine | ServiceConfig> = Layer.unwrap(
  Effect.gen(function*() {
    const durable = yield* Config.option(Config.String("DURABLE"))
    if (Option.isNone(durable)) return layerConfig
    const DurableJobs = yield* Effect.promise(() => import("./durable.js"))
    return DurableJobs.layerFor(durable.value)
  })
).pipe(Layer.orDie)
