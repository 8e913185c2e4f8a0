import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as AsyncJob from "../AsyncJob.js"
import {
  ClosedError,
  ForeignJobError,
  InvalidPoolSizeError,
  JobNotPausedError,
  NoJobsError,
  type PoolStats,
  StaleJobError
} from "../Errors.js"
import type * as JobObserver from "../JobObserver.js"
import { JobObserver as ObserverTag } from "../JobObserver.js"
import type * as JobPool from "../JobPool.js"
import type * as WaitCtx from "../WaitCtx.js"
import * as fastDeferred from "./deferred.js"
import * as metrics from "./metrics.js"
import * as span from "./span.js"
import * as waitCtx from "./waitCtx.js"

/** @internal */
export const JobTypeId: typeof AsyncJob.TypeId = Symbol.for("@async-job/core/AsyncJob") as typeof AsyncJob.TypeId

/** @internal */
export const PoolTypeId: typeof JobPool.TypeId = Symbol.for("@async-job/core/JobPool") as typeof JobPool.TypeId

/** @internal */
export const tag = Context.GenericTag<JobPool.JobPool>("@async-job/core/JobPool")

const INT_MAX = 2 ** 31 - 1

type Step = AsyncJob.JobResult<any, any>
type Resume = (exit: Exit.Exit<Step, any>) => void
type State = AsyncJob.JobState | "cancelling"

const variance = { _A: (_: never) => _, _E: (_: never) => _ }

/** The work handed to a job record's worker fiber: one run of a job. */
interface Work {
  readonly handle: JobHandle
  readonly body: Effect.Effect<unknown, unknown, any>
  /** the caller's FiberRefs, forked for the job (context, services, scheduler, ...) */
  readonly refs: FiberRefs.FiberRefs
}

/**
 * A pooled job record: what OpenSSL keeps in its pool and reuses. Records are
 * created up front (`initSize`) or on demand, never freed while the pool
 * lives, and each run of a job gets a fresh {@link JobHandle} over one.
 *
 * Like an OpenSSL job keeps its fibre, a record keeps its worker fiber between
 * runs: forking a fiber per run (and joining it) costs more than the rest of
 * the start → pause → resume → finish cycle together. The worker is made on
 * first use and retired when a run is interrupted (an interrupted fiber stays
 * interrupted), so a cancelled job never poisons the next one.
 */
class JobRecord {
  /** the worker fiber, while it lives */
  worker: Fiber.RuntimeFiber<void> | undefined = undefined
  /** the worker's callback while it waits for work */
  wake: ((effect: Effect.Effect<Work>) => void) | undefined = undefined
  /** work handed over before the worker was back to waiting */
  work: Work | undefined = undefined

  constructor(readonly pool: PoolImpl) {}

  /** Hands `work` to the worker, making one if needed. */
  dispatch(work: Work): void {
    // a new worker registers `wake` before spawnWorker returns
    if (this.worker === undefined) this.worker = spawnWorker(this)
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      wake(Effect.succeed(work))
    } else {
      // the worker is still finishing its previous run; it takes this next
      this.work = work
    }
  }
}

/**
 * One run of a job: the handle a caller holds between PAUSE and resume, and
 * what `AsyncJob.current` names inside the job (Port decision 1).
 */
class JobHandle implements AsyncJob.Job<any, any> {
  readonly [JobTypeId] = variance
  state: State = "running"
  /** the job's own pause-block counter (Port decision 6) */
  blocked = 0
  /** the worker fiber running this job */
  fiber: Fiber.RuntimeFiber<void> | undefined = undefined
  /** the pause in progress: the job fiber awaits it, resume completes it */
  deferred: Deferred.Deferred<void> | undefined = undefined
  /** the caller of start/resume waiting for the next step */
  waiter: Resume | undefined = undefined
  /** a step reported before its caller started waiting */
  pending: Exit.Exit<Step, any> | undefined = undefined
  readonly bound: waitCtx.BoundJob | undefined

  constructor(
    readonly id: number,
    readonly pool: PoolImpl,
    readonly record: JobRecord,
    readonly ctx: waitCtx.WaitCtxImpl | undefined
  ) {
    this.bound = ctx === undefined ? undefined : { cancelForClose: Effect.suspend(() => interruptJob(this)) }
  }

  get poolId() {
    return this.pool.id
  }

  get waitCtx(): WaitCtx.WaitCtx | undefined {
    return this.ctx
  }

  toJSON() {
    return { _id: "AsyncJob", id: this.id, poolId: this.pool.id, state: this.state }
  }
}

/** The job whose code is running on this fiber (inherited by forks). */
const currentJob = globalValue(
  Symbol.for("@async-job/core/currentJob"),
  () => FiberRef.unsafeMake<JobHandle | undefined>(undefined)
)

let nextPoolId = 1
let nextJobId = 1

const validate = (options: JobPool.Options): Effect.Effect<readonly [number, number], InvalidPoolSizeError> => {
  const { initSize, maxSize } = options
  const invalid = (reason: string) => Effect.fail(new InvalidPoolSizeError({ maxSize, initSize, reason }))
  for (const [name, value] of [["maxSize", maxSize], ["initSize", initSize]] as const) {
    if (value === undefined) continue
    if (typeof value !== "number" || !Number.isInteger(value)) return invalid(`${name} must be an integer`)
    if (value < 0) return invalid(`${name} must not be negative`)
    if (value > INT_MAX) return invalid(`${name} must not exceed 2^31-1`)
  }
  const max = maxSize ?? 0
  const init = initSize ?? 0
  if (maxSize !== undefined && init > max) {
    return invalid(
      max === 0 ? "maxSize 0 (unbounded) accepts only initSize 0, as OpenSSL does" : "initSize exceeds maxSize"
    )
  }
  return Effect.succeed([max, init] as const)
}

/** @internal */
export class PoolImpl implements JobPool.JobPool {
  readonly [PoolTypeId]: JobPool.TypeId = PoolTypeId
  readonly id = nextPoolId++
  /** what this pool has added to the process-wide occupancy gauges */
  private reported = { running: 0, paused: 0, idle: 0 }
  /** the caller FiberRefs last seen, and their fork for a job (callers usually start many jobs) */
  private lastCallerRefs: FiberRefs.FiberRefs | undefined = undefined
  private lastJobRefs: FiberRefs.FiberRefs | undefined = undefined
  readonly idle: Array<JobRecord> = []
  readonly outstanding = new Set<JobHandle>()
  readonly workers = new Set<Fiber.RuntimeFiber<void>>()
  created = 0
  running = 0
  paused = 0
  closed = false

  constructor(public maxSize: number, initSize: number, readonly observer: JobObserver.JobObserver | undefined) {
    this.grow(initSize)
  }

  grow(initSize: number) {
    while (this.created < initSize) {
      this.idle.push(new JobRecord(this))
      this.created++
    }
    this.gauges()
  }

  /** The FiberRefs a job starts with: a fork of its caller's, as `Effect.fork` would give it. */
  jobRefs(caller: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs {
    // `getFiberRefs()` first stores the runtime flags, which copies the refs every
    // time; the fiber's own field is the same snapshot without that copy, and
    // lets the cache below hit while the caller's refs do not change
    const refs = (caller as unknown as { _fiberRefs?: FiberRefs.FiberRefs })._fiberRefs ?? caller.getFiberRefs()
    if (refs !== this.lastCallerRefs) {
      this.lastCallerRefs = refs
      this.lastJobRefs = FiberRefs.forkAs(refs, caller.id())
    }
    return this.lastJobRefs!
  }

  emit(event: JobObserver.JobEvent) {
    this.observer?.onEvent(event)
  }

  gauges() {
    const reported = this.reported
    const idle = this.closed ? 0 : this.idle.length
    metrics.addOccupancy(this.running - reported.running, this.paused - reported.paused, idle - reported.idle)
    reported.running = this.running
    reported.paused = this.paused
    reported.idle = idle
  }

  unsafeStats = (): PoolStats => ({
    maxSize: this.maxSize,
    created: this.created,
    idle: this.idle.length,
    running: this.running,
    paused: this.paused
  })

  get stats() {
    return Effect.sync(this.unsafeStats)
  }

  start = <A, E, R>(
    body: Effect.Effect<A, E, R>,
    options?: AsyncJob.StartOptions,
    /** @internal told the job's id as soon as it has one (`AsyncJob.run` reports it on timeout) */
    onStarted?: (jobId: number) => void
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | NoJobsError, R> =>
    Effect.withFiberRuntime((caller) => {
      let started: JobHandle | undefined
      // everything happens in the registration of one async step, so no
      // interruption can fall between taking a slot and waiting for the job
      return handOver(
        () => started,
        Effect.async<AsyncJob.JobResult<A, E>, E | NoJobsError, R>((done) => {
          const opened = span.open(caller, "AsyncJob.start", undefined)
          const resume = (exit: Exit.Exit<AsyncJob.JobResult<A, E>, E | NoJobsError>) => {
            span.close(opened, exit, started?.id)
            done(exit)
          }
          if (this.closed) return resume(Exit.die(new ClosedError({ what: "JobPool", id: this.id })))
          if (this.maxSize > 0 && this.running + this.paused >= this.maxSize) {
            metrics.noJobs.unsafeUpdate(1, metrics.noLabels)
            if (this.observer !== undefined) this.emit({ _tag: "NoJobs", poolId: this.id })
            return resume(Exit.fail(new NoJobsError({ poolId: this.id, stats: this.unsafeStats() })))
          }
          const ctx = options?.waitCtx as waitCtx.WaitCtxImpl | undefined
          if (ctx !== undefined && ctx.closed) {
            return resume(Exit.die(new ClosedError({ what: "WaitCtx", id: ctx.id })))
          }
          let record = this.idle.pop()
          if (record === undefined) {
            record = new JobRecord(this)
            this.created++
          }
          const handle = new JobHandle(nextJobId++, this, record, ctx)
          this.running++
          this.outstanding.add(handle)
          if (handle.bound !== undefined) ctx!.jobs.add(handle.bound)
          metrics.starts.unsafeUpdate(1, metrics.noLabels)
          this.gauges()
          if (this.observer !== undefined) this.emit({ _tag: "Started", poolId: this.id, jobId: handle.id })
          started = handle
          onStarted?.(handle.id)
          handle.waiter = resume
          record.dispatch({ handle, body, refs: this.jobRefs(caller) })
          handle.fiber = record.worker
          return interruptOnCancel(handle, opened)
        })
      )
    })

  resume = <A, E>(
    job: AsyncJob.Job<A, E>
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.withFiberRuntime((caller) =>
      handOver(
        () => job as unknown as JobHandle,
        Effect.async<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>((done) => {
          const handle = job as unknown as JobHandle
          const opened = span.open(caller, "AsyncJob.resume", handle.id)
          const resume = (
            exit: Exit.Exit<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>
          ) => {
            span.close(opened, exit)
            done(exit)
          }
          const refused = this.check(handle)
          if (refused !== undefined) return resume(refused)
          handle.state = "running"
          this.paused--
          this.running++
          // the epoch reset of spec §2.8 happens as the job is resumed
          if (handle.ctx !== undefined) waitCtx.resetChanges(handle.ctx)
          const deferred = handle.deferred!
          handle.deferred = undefined
          metrics.resumes.unsafeUpdate(1, metrics.noLabels)
          this.gauges()
          if (this.observer !== undefined) this.emit({ _tag: "Resumed", poolId: this.id, jobId: handle.id })
          handle.waiter = resume
          Deferred.unsafeDone(deferred, Exit.void)
          return interruptOnCancel(handle, opened)
        })
      )
    )

  cancel = (job: AsyncJob.Job<any, any>): Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.withSpan(this.unspannedCancel(job), "AsyncJob.cancel", { attributes: { "async_job.id": job.id } })

  private unspannedCancel = (
    job: AsyncJob.Job<any, any>
  ): Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.suspend(() => {
      const handle = job as unknown as JobHandle
      if (handle.state === "cancelling") return Effect.asVoid(Fiber.await(handle.fiber!))
      const refused = this.check(handle)
      if (refused !== undefined) return refused
      metrics.cancellations.unsafeUpdate(1, metrics.noLabels)
      if (this.observer !== undefined) this.emit({ _tag: "CancelRequested", poolId: this.id, jobId: handle.id })
      return interruptJob(handle)
    })

  reconfigure = (options: JobPool.Options): Effect.Effect<void, InvalidPoolSizeError> =>
    Effect.map(validate(options), ([maxSize, initSize]) => {
      this.maxSize = maxSize
      this.grow(initSize)
    })

  /** Why `handle` may not be resumed or cancelled now, if it may not. */
  check(handle: JobHandle): Exit.Exit<never, StaleJobError | JobNotPausedError | ForeignJobError> | undefined {
    if (handle.pool !== this) {
      return Exit.fail(new ForeignJobError({ jobId: handle.id, ownerPoolId: handle.pool.id, poolId: this.id }))
    }
    switch (handle.state) {
      case "paused":
        return undefined
      case "running":
        return Exit.fail(new JobNotPausedError({ jobId: handle.id, poolId: this.id }))
      case "cancelling":
        return Exit.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: "cancelled" }))
      default:
        return Exit.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: handle.state }))
    }
  }

  /** `ASYNC_cleanup_thread`: interrupt every outstanding job and wait until each has unwound. */
  close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.closed) return Effect.void
    this.closed = true
    const jobs = Array.from(this.outstanding)
    return Effect.forEach(jobs, interruptJob, { concurrency: "unbounded", discard: true }).pipe(
      // idle workers too: a closed pool leaves no fiber behind
      Effect.zipRight(Effect.suspend(() => Fiber.interruptAll(Array.from(this.workers)))),
      Effect.ensuring(Effect.sync(() => {
        this.gauges()
        this.emit({ _tag: "PoolClosed", poolId: this.id })
      }))
    )
  })

  toJSON() {
    return { _id: "JobPool", id: this.id, ...this.unsafeStats() }
  }
}

/** Interrupts a job and waits until it has unwound (its finalizers have run). */
const interruptJob = (handle: JobHandle): Effect.Effect<void> => {
  const fiber = handle.fiber
  switch (handle.state) {
    case "paused":
      handle.state = "cancelling"
      return Effect.asVoid(Fiber.interrupt(fiber!))
    case "running":
    case "cancelling":
      return Effect.asVoid(Fiber.interrupt(fiber!))
    default:
      // the run has ended; the worker may already serve another job
      return Effect.void
  }
}

/** What an idle worker's FiberRefs are: none, so every ref reads its initial value. */
const idleRefs = FiberRefs.empty()

/** The fiber internals a worker uses on itself (see JobRecord for why workers are reused). */
interface WorkerFiber extends Fiber.RuntimeFiber<void> {
  setFiberRefs(refs: FiberRefs.FiberRefs): void
  setFiberRef<X>(ref: FiberRef.FiberRef<X>, value: X): void
  interruptAllChildren(): Effect.Effect<void> | null
}

const spawnWorker = (record: JobRecord): Fiber.RuntimeFiber<void> => {
  const pool = record.pool
  const fiber = Effect.runFork(Effect.uninterruptible(Effect.withFiberRuntime<void>((self) => {
    const worker = self as WorkerFiber
    const awaitWork: Effect.Effect<Work> = Effect.interruptible(Effect.async<Work>((resume) => {
      const work = record.work
      if (work !== undefined) {
        record.work = undefined
        return resume(Effect.succeed(work))
      }
      record.wake = resume
      return Effect.sync(() => {
        record.wake = undefined
      })
    }))
    const loop: Effect.Effect<void> = Effect.flatMap(awaitWork, (work) => {
      const { handle } = work
      worker.setFiberRefs(work.refs)
      worker.setFiberRef(currentJob, handle)
      // the body's requirements are in the caller's context, installed just above
      const body = work.body as Effect.Effect<unknown, unknown>
      return Effect.flatMap(Effect.exit(Effect.interruptible(body)), (exit) => {
        // the job's own fibers end with it, as they would with its fiber
        const children = worker.interruptAllChildren()
        const end = Effect.suspend(() => {
          // an idle worker holds on to nothing of its last caller
          worker.setFiberRefs(idleRefs)
          const retire = Exit.isFailure(exit) && Cause.isInterrupted(exit.cause)
          if (retire && record.worker === fiber) record.worker = undefined
          finish(handle, exit)
          return retire ? Effect.void : loop
        })
        return children === null ? end : Effect.zipRight(children, end)
      })
    })
    return loop
  })))
  pool.workers.add(fiber)
  fiber.addObserver(() => {
    pool.workers.delete(fiber)
    if (record.worker === fiber) record.worker = undefined
  })
  return fiber
}

const finish = (handle: JobHandle, exit: Exit.Exit<unknown, unknown>): void => {
  const pool = handle.pool
  const state = handle.state
  if (state === "running") pool.running--
  else pool.paused--
  handle.state = Exit.isSuccess(exit) ? "finished" : Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"
  handle.deferred = undefined
  pool.outstanding.delete(handle)
  if (handle.bound !== undefined) handle.ctx!.jobs.delete(handle.bound)
  // LIFO reuse, as OpenSSL's pool; a closed pool keeps no records
  if (!pool.closed) pool.idle.push(handle.record)
  metrics.finishes.unsafeUpdate(1, metrics.outcomeLabels[handle.state as "finished"])
  pool.gauges()
  if (pool.observer !== undefined) {
    pool.emit({ _tag: "Ended", poolId: pool.id, jobId: handle.id, outcome: handle.state as "finished" })
  }
  deliver(
    handle,
    Exit.isSuccess(exit) ? Exit.succeed({ _tag: "Finished", value: exit.value }) : Exit.failCause(exit.cause)
  )
}

/** Hands a step to the caller of start/resume, or keeps it until that caller waits. */
const deliver = (handle: JobHandle, step: Exit.Exit<Step, any>): void => {
  const waiter = handle.waiter
  if (waiter === undefined) {
    handle.pending = step
    return
  }
  handle.waiter = undefined
  waiter(step)
}

/**
 * If the caller of start/resume is interrupted after the job paused but before
 * the `Paused` step reached it, nobody would hold the handle: cancel the job.
 */
const handOver = <A, E, R>(
  handle: () => JobHandle | undefined,
  step: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.onInterrupt(step, () => {
    const job = handle()
    return job !== undefined && job.state === "paused" ? interruptJob(job) : Effect.void
  })

/**
 * The canceller of a caller waiting for a job's next PAUSE or FINISH: if the
 * caller is interrupted, the job is interrupted too, and the caller's
 * interruption completes once the job has unwound. No orphans.
 */
const interruptOnCancel = (handle: JobHandle, opened: span.OpenSpan | undefined): Effect.Effect<void> =>
  Effect.suspend(() => {
    handle.waiter = undefined
    span.close(opened, Exit.interrupt(FiberId.none), handle.id)
    return handle.state === "running" ? interruptJob(handle) : Effect.void
  })

/** @internal */
export const pause: Effect.Effect<void> = Effect.withFiberRuntime((fiber) => {
  const handle = fiber.getFiberRef(currentJob)
  if (handle === undefined || handle.blocked > 0) return Effect.void
  switch (handle.state) {
    case "running": {
      const deferred = fastDeferred.unsafeMake<void>(fiber.id())
      const pool = handle.pool
      handle.deferred = deferred
      handle.state = "paused"
      pool.running--
      pool.paused++
      metrics.pauses.unsafeUpdate(1, metrics.noLabels)
      pool.gauges()
      if (pool.observer !== undefined) pool.emit({ _tag: "Paused", poolId: pool.id, jobId: handle.id })
      deliver(handle, Exit.succeed({ _tag: "Paused", job: handle }))
      return Deferred.await(deferred)
    }
    // another fiber of the same job paused it: wait for the same resume
    case "paused":
      return Deferred.await(handle.deferred!)
    default:
      return Effect.void
  }
})

const liveHandle = (fiber: Fiber.RuntimeFiber<unknown, unknown>): JobHandle | undefined => {
  const handle = fiber.getFiberRef(currentJob)
  return handle !== undefined && (handle.state === "running" || handle.state === "paused") ? handle : undefined
}

/** @internal */
export const current: Effect.Effect<Option.Option<AsyncJob.Job<unknown, unknown>>> = Effect.withFiberRuntime((
  fiber
) => Effect.succeed(Option.fromNullable(liveHandle(fiber))))

/** @internal */
export const blockPause: Effect.Effect<void> = Effect.withFiberRuntime((fiber) => {
  const handle = liveHandle(fiber)
  if (handle !== undefined) handle.blocked++
  return Effect.void
})

/** @internal */
export const unblockPause: Effect.Effect<void> = Effect.withFiberRuntime((fiber) => {
  const handle = liveHandle(fiber)
  if (handle !== undefined && handle.blocked > 0) handle.blocked--
  return Effect.void
})

/** @internal */
export const withPauseBlocked = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.withFiberRuntime<JobHandle | undefined>((fiber) => {
      const handle = liveHandle(fiber)
      if (handle !== undefined) handle.blocked++
      return Effect.succeed(handle)
    }),
    () => self,
    (handle) =>
      Effect.sync(() => {
        if (handle !== undefined && handle.blocked > 0) handle.blocked--
      })
  )

/** @internal */
export const waitCtxOf = (job: AsyncJob.Job<any, any>): Option.Option<WaitCtx.WaitCtx> => {
  const handle = job as unknown as JobHandle
  return handle.state === "running" || handle.state === "paused" ? Option.fromNullable(handle.ctx) : Option.none()
}

/**
 * Calls `onEnd` if the paused job ends (is cancelled) before it is resumed;
 * returns an unsubscribe function. Used by drivers that wait on something
 * else meanwhile.
 *
 * @internal
 */
export const unsafeOnEndWhilePaused = (job: AsyncJob.Job<any, any>, onEnd: () => void): () => void => {
  const handle = job as unknown as JobHandle
  if (handle.state !== "paused") {
    onEnd()
    return () => {}
  }
  const waiter: Resume = () => onEnd()
  handle.waiter = waiter
  return () => {
    if (handle.waiter === waiter) handle.waiter = undefined
  }
}

/** @internal */
export const stateOf = (job: AsyncJob.Job<any, any>): AsyncJob.JobState => {
  const state = (job as unknown as JobHandle).state
  return state === "cancelling" ? "paused" : state
}

/** @internal */
export const make = (
  options: JobPool.Options = {}
): Effect.Effect<JobPool.JobPool, InvalidPoolSizeError, Scope.Scope> =>
  Effect.flatMap(validate(options), ([maxSize, initSize]) =>
    Effect.acquireRelease(
      Effect.map(Effect.serviceOption(ObserverTag), (observer) =>
        new PoolImpl(maxSize, initSize, Option.getOrUndefined(observer))),
      (pool) =>
        pool.close
    ))

/** @internal */
export const unsafeClose = (pool: JobPool.JobPool): Effect.Effect<void> => (pool as PoolImpl).close
