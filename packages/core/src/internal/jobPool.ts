import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as MetricLabel from "effect/MetricLabel"
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
import * as metrics from "./metrics.js"
import * as waitCtx from "./waitCtx.js"

/** @internal */
export const JobTypeId: typeof AsyncJob.TypeId = Symbol.for("@async-job/core/AsyncJob") as typeof AsyncJob.TypeId

/** @internal */
export const PoolTypeId: typeof JobPool.TypeId = Symbol.for("@async-job/core/JobPool") as typeof JobPool.TypeId

/** @internal */
export const tag = Context.GenericTag<JobPool.JobPool>("@async-job/core/JobPool")

const INT_MAX = 2 ** 31 - 1

type Step = AsyncJob.JobResult<any, any>
type Resume = (effect: Effect.Effect<Step, any>) => void
type State = AsyncJob.JobState | "cancelling"

const variance = { _A: (_: never) => _, _E: (_: never) => _ }

/**
 * A pooled job record: what OpenSSL keeps in its pool and reuses. Records are
 * created up front (`initSize`) or on demand, never freed while the pool
 * lives, and each run of a job gets a fresh {@link JobHandle} over one.
 */
class JobRecord {
  handle: JobHandle | undefined = undefined
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
  fiber: Fiber.RuntimeFiber<any, any> | undefined = undefined
  /** the pause in progress: the job fiber awaits it, resume completes it */
  deferred: Deferred.Deferred<void> | undefined = undefined
  /** the caller of start/resume waiting for the next step */
  waiter: Resume | undefined = undefined
  /** a step reported before its caller started waiting */
  pending: Effect.Effect<Step, any> | undefined = undefined
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
  readonly labels: ReadonlyArray<MetricLabel.MetricLabel>
  readonly idle: Array<JobRecord> = []
  readonly outstanding = new Set<JobHandle>()
  created = 0
  running = 0
  paused = 0
  closed = false

  constructor(public maxSize: number, initSize: number, readonly observer: JobObserver.JobObserver | undefined) {
    this.labels = [MetricLabel.make("pool", String(this.id))]
    this.grow(initSize)
  }

  grow(initSize: number) {
    while (this.created < initSize) {
      this.idle.push(new JobRecord())
      this.created++
    }
    this.gauges()
  }

  emit(event: JobObserver.JobEvent) {
    this.observer?.onEvent(event)
  }

  gauges() {
    metrics.running.unsafeUpdate(this.running, this.labels)
    metrics.paused.unsafeUpdate(this.paused, this.labels)
    metrics.idle.unsafeUpdate(this.idle.length, this.labels)
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
    options?: AsyncJob.StartOptions
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | NoJobsError, R> =>
    Effect.uninterruptibleMask<AsyncJob.JobResult<A, E>, E | NoJobsError, R>((restore) => {
      if (this.closed) return Effect.die(new ClosedError({ what: "JobPool", id: this.id }))
      if (this.maxSize > 0 && this.running + this.paused >= this.maxSize) {
        metrics.noJobs.unsafeUpdate(1, this.labels)
        if (this.observer !== undefined) this.emit({ _tag: "NoJobs", poolId: this.id })
        return Effect.fail(new NoJobsError({ poolId: this.id, stats: this.unsafeStats() }))
      }
      const ctx = options?.waitCtx as waitCtx.WaitCtxImpl | undefined
      if (ctx !== undefined && ctx.closed) return Effect.die(new ClosedError({ what: "WaitCtx", id: ctx.id }))
      let record = this.idle.pop()
      if (record === undefined) {
        record = new JobRecord()
        this.created++
      }
      const handle = new JobHandle(nextJobId++, this, record, ctx)
      record.handle = handle
      this.running++
      this.outstanding.add(handle)
      if (handle.bound !== undefined) ctx!.jobs.add(handle.bound)
      metrics.starts.unsafeUpdate(1, this.labels)
      this.gauges()
      if (this.observer !== undefined) this.emit({ _tag: "Started", poolId: this.id, jobId: handle.id })
      return Effect.flatMap(
        Effect.forkDaemon(runBody(handle, body)),
        (fiber) => {
          handle.fiber = fiber
          return restore(awaitStep<A, E>(handle))
        }
      )
    })

  resume = <A, E>(
    job: AsyncJob.Job<A, E>
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.uninterruptibleMask<
      AsyncJob.JobResult<A, E>,
      E | StaleJobError | JobNotPausedError | ForeignJobError,
      never
    >((restore) => {
      const handle = job as unknown as JobHandle
      const refused = this.check(handle)
      if (refused !== undefined) return refused
      handle.state = "running"
      this.paused--
      this.running++
      // the epoch reset of spec §2.8 happens as the job is resumed
      if (handle.ctx !== undefined) waitCtx.resetChanges(handle.ctx)
      const deferred = handle.deferred!
      handle.deferred = undefined
      metrics.resumes.unsafeUpdate(1, this.labels)
      this.gauges()
      if (this.observer !== undefined) this.emit({ _tag: "Resumed", poolId: this.id, jobId: handle.id })
      Deferred.unsafeDone(deferred, Exit.void)
      return restore(awaitStep<A, E>(handle))
    })

  cancel = (job: AsyncJob.Job<any, any>): Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.suspend(() => {
      const handle = job as unknown as JobHandle
      if (handle.state === "cancelling") return Effect.asVoid(Fiber.await(handle.fiber!))
      const refused = this.check(handle)
      if (refused !== undefined) return refused
      metrics.cancellations.unsafeUpdate(1, this.labels)
      if (this.observer !== undefined) this.emit({ _tag: "CancelRequested", poolId: this.id, jobId: handle.id })
      return interruptJob(handle)
    })

  reconfigure = (options: JobPool.Options): Effect.Effect<void, InvalidPoolSizeError> =>
    Effect.map(validate(options), ([maxSize, initSize]) => {
      this.maxSize = maxSize
      this.grow(initSize)
    })

  /** Why `handle` may not be resumed or cancelled now, if it may not. */
  check(handle: JobHandle): Effect.Effect<never, StaleJobError | JobNotPausedError | ForeignJobError> | undefined {
    if (handle.pool !== this) {
      return Effect.fail(new ForeignJobError({ jobId: handle.id, ownerPoolId: handle.pool.id, poolId: this.id }))
    }
    switch (handle.state) {
      case "paused":
        return undefined
      case "running":
        return Effect.fail(new JobNotPausedError({ jobId: handle.id, poolId: this.id }))
      case "cancelling":
        return Effect.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: "cancelled" }))
      default:
        return Effect.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: handle.state }))
    }
  }

  /** `ASYNC_cleanup_thread`: interrupt every outstanding job and wait until each has unwound. */
  close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.closed) return Effect.void
    this.closed = true
    const jobs = Array.from(this.outstanding)
    return Effect.forEach(jobs, interruptJob, { concurrency: "unbounded", discard: true }).pipe(
      Effect.ensuring(Effect.sync(() => this.emit({ _tag: "PoolClosed", poolId: this.id })))
    )
  })

  toJSON() {
    return { _id: "JobPool", id: this.id, ...this.unsafeStats() }
  }
}

/** Interrupts a job and waits until it has unwound (its finalizers have run). */
const interruptJob = (handle: JobHandle): Effect.Effect<void> => {
  if (handle.fiber === undefined) return Effect.void
  if (handle.state === "paused") handle.state = "cancelling"
  return Effect.asVoid(Fiber.interrupt(handle.fiber))
}

/** The job fiber's program: the body, with the job as the current job, reporting its end. */
const runBody = <A, E, R>(handle: JobHandle, body: Effect.Effect<A, E, R>): Effect.Effect<void, never, R> =>
  Effect.interruptible(Effect.locally(body, currentJob, handle)).pipe(
    Effect.onExit((exit) => Effect.sync(() => finish(handle, exit))),
    Effect.ignore
  )

const finish = (handle: JobHandle, exit: Exit.Exit<unknown, unknown>): void => {
  const pool = handle.pool
  const state = handle.state
  if (state === "running") pool.running--
  else pool.paused--
  handle.state = Exit.isSuccess(exit) ? "finished" : Cause.isInterruptedOnly(exit.cause) ? "cancelled" : "failed"
  handle.deferred = undefined
  handle.record.handle = undefined
  pool.outstanding.delete(handle)
  if (handle.bound !== undefined) handle.ctx!.jobs.delete(handle.bound)
  // LIFO reuse, as OpenSSL's pool; a closed pool keeps no records
  if (!pool.closed) pool.idle.push(handle.record)
  metrics.finishes.unsafeUpdate(1, [...pool.labels, MetricLabel.make("outcome", handle.state)])
  pool.gauges()
  if (pool.observer !== undefined) {
    pool.emit({ _tag: "Ended", poolId: pool.id, jobId: handle.id, outcome: handle.state as "finished" })
  }
  deliver(
    handle,
    Exit.isSuccess(exit) ? Effect.succeed({ _tag: "Finished", value: exit.value }) : Effect.failCause(exit.cause)
  )
}

/** Hands a step to the caller of start/resume, or keeps it until that caller waits. */
const deliver = (handle: JobHandle, step: Effect.Effect<Step, any>): void => {
  const waiter = handle.waiter
  if (waiter === undefined) {
    handle.pending = step
    return
  }
  handle.waiter = undefined
  waiter(step)
}

/**
 * Waits for the job's next PAUSE or FINISH. If the waiting fiber is
 * interrupted, the job is interrupted too, and the wait ends when it has
 * unwound: no orphans.
 */
const awaitStep = <A, E>(handle: JobHandle): Effect.Effect<AsyncJob.JobResult<A, E>, E> =>
  Effect.async<AsyncJob.JobResult<A, E>, E>((resume) => {
    const pending = handle.pending
    if (pending !== undefined) {
      handle.pending = undefined
      resume(pending)
      return
    }
    handle.waiter = resume
    return Effect.suspend(() => {
      handle.waiter = undefined
      return handle.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.interrupt(handle.fiber))
    })
  })

/** @internal */
export const pause: Effect.Effect<void> = Effect.withFiberRuntime((fiber) => {
  const handle = fiber.getFiberRef(currentJob)
  if (handle === undefined || handle.blocked > 0) return Effect.void
  switch (handle.state) {
    case "running": {
      const deferred = Deferred.unsafeMake<void>(fiber.id())
      const pool = handle.pool
      handle.deferred = deferred
      handle.state = "paused"
      pool.running--
      pool.paused++
      metrics.pauses.unsafeUpdate(1, pool.labels)
      pool.gauges()
      if (pool.observer !== undefined) pool.emit({ _tag: "Paused", poolId: pool.id, jobId: handle.id })
      deliver(handle, Effect.succeed({ _tag: "Paused", job: handle }))
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
