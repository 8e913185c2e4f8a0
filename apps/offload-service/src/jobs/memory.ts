/**
 * The service's jobs in memory: every accepted `POST /jobs` is one async job
 * of `@async-job/core`, run the way OpenSSL runs a job on an Intel QAT card.
 *
 * For each job the service:
 *
 * 1. makes a wait ctx in a scope of the job's own (closed once the job has
 *    ended, which runs the cleanup of its wait fd);
 * 2. starts the job in the {@link JobPool.JobPool} with `JobPool.startUnsafe`
 *    (no fiber but the job's own: the request's fiber answers from the job's
 *    steps). A full pool refuses the job at once (`NoJobsError`): nothing is
 *    queued; inputs past `MAX_QUEUED_BYTES` are refused too (`OverloadedError`);
 * 3. inside the job (`offload.ts`): submits the operation to the engine,
 *    publishes an in-process `WaitFd` on the wait ctx, and pauses until the
 *    engine has answered (a resume is a hint, not a promise);
 * 4. the engine's completion callback signals the fd and resumes the job
 *    (`JobPool.resumeUnsafe`), which finishes with the result.
 *
 * Cancelling a job (`DELETE`, a `?wait=true` client that went away, shutdown)
 * cancels the paused job: its finalizer drops the engine request, then its
 * scope closes the wait ctx, which runs the fd's cleanup.
 *
 * Ended jobs (finished, failed, cancelled) are kept in an LRU cache
 * (`lru-cache`) for `RESULT_TTL`, at most `RESULT_MAX` of them and
 * `RESULT_MAX_BYTES` of their results and errors, the least recently used
 * forgotten first. An ended job keeps its id, operation and outcome only: its
 * input is dropped as soon as it ends.
 *
 * Shutdown refuses new jobs at once, gives the outstanding ones up to
 * `SHUTDOWN_GRACE` to end (less if `GraceCutShort` completes first), then
 * cancels the rest.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import type { NoJobsError } from "@async-job/core/Errors"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import type * as WaitFd from "@async-job/core/WaitFd"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { LRUCache } from "lru-cache"
import * as Crypto from "node:crypto"
import { ServiceConfig } from "../config.js"
import { CryptoEngine } from "../engine/CryptoEngine.js"
import type { EngineError } from "../engine/EngineError.js"
import * as Operation from "../engine/Operation.js"
import {
  GraceCutShort,
  type Housekeeping,
  JobEndedError,
  type JobError,
  JobNotFoundError,
  Jobs,
  type JobView,
  OverloadedError,
  ShuttingDownError,
  type StartError
} from "./Jobs.js"
import { offload } from "./offload.js"

// ---------------------------------------------------------------------------
// metrics

type Outcome = "finished" | "failed" | "cancelled"
const outcomes: ReadonlyArray<Outcome> = ["finished", "failed", "cancelled"]

const byOp = <A>(f: (op: Operation.Op) => A): Record<Operation.Op, A> => {
  const out: Partial<Record<Operation.Op, A>> = {}
  for (const op of Operation.ops) out[op] = f(op)
  return out as Record<Operation.Op, A>
}

const startedMetric = byOp((op) =>
  Metric.counter("offload_jobs_started_total", {
    description: "Jobs started, by operation",
    incremental: true,
    attributes: { op }
  })
)

const endedMetric = byOp((op) => {
  const out: Partial<Record<Outcome, Metric.Counter<number>>> = {}
  for (const outcome of outcomes) {
    out[outcome] = Metric.counter("offload_jobs_ended_total", {
      description: "Jobs ended, by operation and outcome",
      incremental: true,
      attributes: { op, outcome }
    })
  }
  return out as Record<Outcome, Metric.Counter<number>>
})

const secondsMetric = byOp((op) =>
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

const queuedBytesMetric = Metric.gauge("offload_queued_bytes", {
  description: "Bytes of input held by jobs accepted and not yet ended (bounded by MAX_QUEUED_BYTES)"
})

// ---------------------------------------------------------------------------
// implementation

interface Ended {
  readonly state: Outcome
  readonly result?: Operation.Result
  readonly error?: JobError
}

/** A job's record while it runs: its id, operation and input size, never its input (the job's body holds that). */
class Entry {
  job: AsyncJob.Job<Operation.Result, EngineError> | undefined = undefined
  ended: Ended | undefined = undefined
  /** its scope closed (the fd's cleanup ran) and its waiters woken: nothing of it runs any more */
  finished = false
  waiters: Array<() => void> = []
  /** answered once with the job's first step: paused (undefined) or why it did not start */
  onFirstStep: ((failure: StartError | undefined) => void) | undefined = undefined
  constructor(
    readonly id: string,
    readonly op: Operation.Op,
    readonly bytes: number,
    readonly startedAt: number,
    readonly scope: Scope.Closeable
  ) {}
}

/** The bytes an ended record holds, roughly: its strings (2 bytes a unit at most) and some overhead. */
const recordBytes = (value: unknown): number => {
  if (typeof value === "string") return 2 * value.length
  if (typeof value !== "object" || value === null) return 8
  let bytes = 64
  for (const key in value) bytes += 2 * key.length + recordBytes((value as Record<string, unknown>)[key])
  return bytes
}

const viewOf = (id: string, op: Operation.Op, ended: Ended): JobView => {
  if (ended.result !== undefined) return { id, op, state: ended.state, result: ended.result }
  if (ended.error !== undefined) return { id, op, state: ended.state, error: ended.error }
  return { id, op, state: ended.state }
}

const view = (entry: Entry): JobView => {
  if (entry.ended !== undefined) return viewOf(entry.id, entry.op, entry.ended)
  const state = entry.job === undefined ? "running" : AsyncJob.stateUnsafe(entry.job)
  return { id: entry.id, op: entry.op, state: state === "paused" ? "paused" : "running" }
}

const errorOf = (cause: Cause.Cause<{ readonly _tag: string; readonly message: string }>): JobError => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) return { tag: failure.value._tag, message: failure.value.message }
  const defect = Cause.squash(cause)
  return { tag: "InternalError", message: defect instanceof Error ? defect.message : String(defect) }
}

const isNoJobs = (cause: Cause.Cause<unknown>): Option.Option<NoJobsError> =>
  Option.filter(
    Cause.findErrorOption(cause),
    (error): error is NoJobsError =>
      typeof error === "object" && error !== null && "_tag" in error && error._tag === "NoJobsError"
  )

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
    const graceCutShort = yield* GraceCutShort
    // the jobs run with this context (the pool's metrics registry among it), and the metrics are recorded in it
    const context = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(context)
    const outstanding = new Map<string, Entry>()
    const ttl = Duration.toMillis(config.resultTtl)
    const ended = new LRUCache<string, JobView>({
      max: Math.max(1, config.resultMax),
      maxSize: Math.max(1, config.resultMaxBytes),
      sizeCalculation: (record) => Math.max(1, recordBytes(record)),
      ttl: ttl === Number.POSITIVE_INFINITY ? 0 : Math.max(1, ttl),
      perf: { now: () => clock.currentTimeMillisUnsafe() }
    })
    const keeps = config.resultMax > 0 && ttl > 0
    let accepting = true
    let queuedBytes = 0
    const counts = { finished: 0, failed: 0, cancelled: 0, noJobs: 0, fdCleanups: 0 }
    /** signalled whenever the last outstanding job ends (shutdown waits on it) */
    let drained: Deferred.Deferred<void> | undefined

    const cleanupFd: WaitCtx.Cleanup = ({ fd }) =>
      Effect.sync(() => {
        // an in-process fd holds no OS resource; consuming its signal is all there is to release
        ;(fd as WaitFd.InProcessWaitFd).clearUnsafe()
        counts.fdCleanups++
        fdCleanupsMetric.updateUnsafe(1, context)
      })

    /** Closes the job's scope (its wait ctx: the fd's cleanup runs), once it has ended. */
    const closeScope = (entry: Entry): Effect.Effect<void> => Scope.close(entry.scope, Exit.void)

    /** Records how the job ended, once (from the job's own last frame): counts, metrics, the ended cache. */
    const settle = (entry: Entry, exit: Exit.Exit<Operation.Result, unknown>): void => {
      if (entry.ended !== undefined) return
      let record: Ended
      if (Exit.isSuccess(exit)) record = { state: "finished", result: exit.value }
      else if (Cause.hasInterruptsOnly(exit.cause)) record = { state: "cancelled" }
      else record = { state: "failed", error: errorOf(exit.cause as Cause.Cause<EngineError>) }
      entry.ended = record
      // the job's handle refers to its pool record; an ended job needs neither
      entry.job = undefined
      counts[record.state]++
      endedMetric[entry.op][record.state].updateUnsafe(1, context)
      secondsMetric[entry.op].updateUnsafe((clock.currentTimeMillisUnsafe() - entry.startedAt) / 1000, context)
      if (outstanding.delete(entry.id)) {
        queuedBytes -= entry.bytes
        if (keeps) ended.set(entry.id, viewOf(entry.id, entry.op, record))
      }
    }

    /** Once the job's fiber is done and its scope closed: wakes whoever waits for its end. */
    const finish = (entry: Entry): void => {
      if (entry.finished) return
      entry.finished = true
      const waiters = entry.waiters
      entry.waiters = []
      for (const wake of waiters) wake()
      // cancelled before it paused: the start answers with the end
      const first = entry.onFirstStep
      entry.onFirstStep = undefined
      first?.(undefined)
      if (outstanding.size === 0 && drained !== undefined) Deferred.doneUnsafe(drained, Exit.void)
    }

    /** Closes the job's scope (its wait ctx: the fd's cleanup runs), then wakes its waiters. */
    const closeAndFinish = (entry: Entry): Effect.Effect<void> =>
      Effect.andThen(closeScope(entry), Effect.sync(() => finish(entry)))

    /** The job's steps, from `startUnsafe` and `resumeUnsafe`, outside any fiber. */
    const onStep = (entry: Entry) =>
    (
      step: Exit.Exit<AsyncJob.JobResult<Operation.Result, EngineError>, unknown>
    ): void => {
      if (Exit.isSuccess(step)) {
        if (step.value._tag === "Paused") {
          entry.job = step.value.job
          const first = entry.onFirstStep
          entry.onFirstStep = undefined
          first?.(undefined)
          return
        }
        settle(entry, Exit.succeed(step.value.value))
      } else {
        const noJobs = isNoJobs(step.cause)
        if (Option.isSome(noJobs) && entry.job === undefined && entry.ended === undefined) {
          // refused by the pool: nothing ran, nothing is recorded
          counts.noJobs++
          outstanding.delete(entry.id)
          queuedBytes -= entry.bytes
          const first = entry.onFirstStep
          entry.onFirstStep = undefined
          first?.(noJobs.value)
          if (outstanding.size === 0 && drained !== undefined) Deferred.doneUnsafe(drained, Exit.void)
        } else {
          settle(entry, step as Exit.Exit<never, unknown>)
        }
      }
      runFork(closeAndFinish(entry))
    }

    /** Resumes the job once the engine has answered (its fd signalled); a resume of an ended job does nothing. */
    const resume = (entry: Entry) => () => {
      const job = entry.job
      if (job !== undefined && AsyncJob.stateUnsafe(job) === "paused") JobPool.resumeUnsafe(pool, job, onStep(entry))
    }

    // with a tracer exported, the start of each job (until its first step) is a span of the request's trace
    const traced = config.tracesExporter !== "none"
    const start = (request: Operation.Request): Effect.Effect<Entry, StartError> =>
      traced
        ? Effect.withSpan(startJob(request), "AsyncJob.start", { attributes: { "offload.op": request.op } })
        : startJob(request)

    const startJob = (request: Operation.Request): Effect.Effect<Entry, StartError> =>
      Effect.suspend(() => {
        if (!accepting) return Effect.fail(new ShuttingDownError())
        const bytes = Operation.requestBytes(request)
        // one job of any size may run alone; beyond that, the inputs held stay within the bound
        if (outstanding.size > 0 && queuedBytes + bytes > config.maxQueuedBytes) {
          return Effect.fail(new OverloadedError({ queuedBytes, maxQueuedBytes: config.maxQueuedBytes }))
        }
        const scope = Scope.makeUnsafe()
        const entry = new Entry(Crypto.randomUUID(), request.op, bytes, clock.currentTimeMillisUnsafe(), scope)
        outstanding.set(entry.id, entry)
        queuedBytes += bytes
        startedMetric[entry.op].updateUnsafe(1, context)
        return Effect.flatMap(Scope.provide(WaitCtx.make, scope), (ctx) =>
          Effect.callback<Entry, StartError>((answer) => {
            entry.onFirstStep = (failure) =>
              answer(failure === undefined ? Effect.succeed(entry) : Effect.fail(failure))
            const body = offload(engine, request, ctx, { cleanup: cleanupFd, onAnswer: resume(entry) }).pipe(
              Effect.onExit((exit) =>
                Effect.sync(() => settle(entry, exit))
              )
            )
            JobPool.startUnsafe(pool, context, body, { waitCtx: ctx }, onStep(entry))
          }))
      })

    const awaitEnd = (entry: Entry): Effect.Effect<JobView> =>
      Effect.callback<JobView>((resume) => {
        if (entry.finished) return resume(Effect.succeed(view(entry)))
        const wake = () => resume(Effect.succeed(view(entry)))
        entry.waiters.push(wake)
        return Effect.sync(() => {
          entry.waiters = entry.waiters.filter((w) => w !== wake)
        })
      })

    /** Cancels a job still running or paused and waits until it has unwound and its wait ctx closed. */
    const cancelJob = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        const job = entry.job
        if (entry.ended !== undefined || job === undefined) return awaitEnd(entry)
        return AsyncJob.cancel(job).pipe(
          Effect.provideService(JobPool.JobPool, pool),
          // it ended meanwhile, or is being cancelled already: its end is what counts
          Effect.catch(() => Effect.void),
          Effect.andThen(Effect.suspend(() => entry.ended === undefined ? awaitEnd(entry) : closeAndFinish(entry)))
        )
      }).pipe(Effect.asVoid)

    const lookup = (id: string): Effect.Effect<Entry | JobView, JobNotFoundError> =>
      Effect.suspend(() => {
        const entry = outstanding.get(id)
        if (entry !== undefined) return Effect.succeed<Entry | JobView>(entry)
        const record = ended.get(id)
        return record === undefined
          ? Effect.fail(new JobNotFoundError({ id }))
          : Effect.succeed<Entry | JobView>(record)
      })

    const cancelledView = (record: JobView): Effect.Effect<JobView, JobEndedError> =>
      record.state === "cancelled" || record.state === "running" || record.state === "paused"
        ? Effect.succeed(record)
        : Effect.fail(new JobEndedError({ id: record.id, state: record.state }))

    const shutdown = Effect.suspend(() => {
      accepting = false
      if (outstanding.size === 0) return Effect.succeed(0)
      drained ??= Deferred.makeUnsafe<void>()
      // interruptible: shutdown runs as a finalizer, where the timeout could not stop the wait otherwise; the grace
      // ends with the last job, at SHUTDOWN_GRACE, or when it is cut short (a second signal), whichever comes first
      return Effect.interruptible(Deferred.await(drained)).pipe(
        Effect.timeoutOption(config.shutdownGrace),
        (grace) => Effect.raceFirst(grace, Effect.interruptible(graceCutShort)),
        Effect.andThen(Effect.suspend(() => {
          const left = Array.from(outstanding.values())
          // one after another, each yielding: probes and answers keep being served while they unwind
          return Effect.as(
            Effect.forEach(left, (entry) => Effect.andThen(cancelJob(entry), Effect.yieldNow), { discard: true }),
            left.length
          )
        }))
      )
    })

    yield* Effect.addFinalizer(() => shutdown)
    // reads purge lazily; this frees memory when nobody reads, and keeps the gauges current
    const sweepEvery = Duration.max(Duration.millis(10), Duration.min(config.resultTtl, Duration.seconds(1)))
    yield* Effect.forkScoped(Effect.repeat(
      Effect.sync(() => {
        ended.purgeStale()
        retainedMetric.updateUnsafe(ended.size, context)
        queuedBytesMetric.updateUnsafe(queuedBytes, context)
      }),
      Schedule.spaced(sweepEvery)
    ))

    const jobs: Jobs = {
      submit: (request) => Effect.map(start(request), view),
      // an interruption while the job starts takes effect once it has: the job is then cancelled, not left running
      run: (request) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(start(request), (entry) =>
            restore(awaitEnd(entry)).pipe(
              Effect.onInterrupt(() => cancelJob(entry))
            ))
        ),
      get: (id) => Effect.map(lookup(id), (found) => found instanceof Entry ? view(found) : found),
      cancel: (id) =>
        Effect.flatMap(lookup(id), (found) =>
          found instanceof Entry
            ? Effect.flatMap(Effect.andThen(cancelJob(found), Effect.sync(() => view(found))), cancelledView)
            : cancelledView(found)),
      stats: Effect.sync(() => ({
        ...pool.statsUnsafe(),
        finished: counts.finished,
        failed: counts.failed,
        cancelled: counts.cancelled,
        noJobs: counts.noJobs
      })),
      housekeeping: Effect.sync((): Housekeeping => {
        ended.purgeStale()
        return { fdCleanups: counts.fdCleanups, retained: ended.size, outstanding: outstanding.size, queuedBytes }
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
