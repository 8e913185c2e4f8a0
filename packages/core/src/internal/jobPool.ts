import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Pipeable from "effect/Pipeable"
import type * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import type * as AsyncJob from "../AsyncJob.js"
import {
  ClosedError,
  ForeignJobError,
  InvalidPoolSizeError,
  JobNotPausedError,
  NoJobsError,
  StaleJobError
} from "../Errors.js"
import type * as JobObserver from "../JobObserver.js"
import { JobObserver as ObserverTag } from "../JobObserver.js"
import type * as JobPool from "../JobPool.js"
import type * as WaitCtx from "../WaitCtx.js"
import * as metrics from "./metrics.js"
import * as span from "./span.js"
import * as waitCtx from "./waitCtx.js"

/** @internal */
export const JobTypeId: typeof AsyncJob.TypeId = Symbol.for("@async-job/core/AsyncJob") as typeof AsyncJob.TypeId

/** @internal */
export const PoolTypeId: typeof JobPool.TypeId = Symbol.for("@async-job/core/JobPool") as typeof JobPool.TypeId

/** @internal */
export const tag: Context.Service<JobPool.JobPool, JobPool.JobPool> = Context.Service("@async-job/core/JobPool")

const INT_MAX = 2 ** 31 - 1

type Outcome = "finished" | "failed" | "cancelled"

/**
 * Where a job run is. `Running` covers a job executing for its caller;
 * `Paused` is a job waiting in its pause (on the handle's `pending` Deferred);
 * `Cancelling` is a job being interrupted (its finalizers run) after a cancel
 * or a close; `Ended` is final. Every status is a shared constant, so a
 * transition allocates nothing.
 */
type Status =
  | { readonly _tag: "Running" }
  | { readonly _tag: "Paused" }
  | { readonly _tag: "Cancelling" }
  | { readonly _tag: "Ended"; readonly outcome: Outcome }

const Running: Status = { _tag: "Running" }
const Paused: Status = { _tag: "Paused" }
const Cancelling: Status = { _tag: "Cancelling" }
const Ended: { readonly [O in Outcome]: Status } = {
  finished: { _tag: "Ended", outcome: "finished" },
  failed: { _tag: "Ended", outcome: "failed" },
  cancelled: { _tag: "Ended", outcome: "cancelled" }
}

/** Where a job's spans stand (see `adoptSpan`). */
interface Trace {
  /** the parent span the job's code runs under in its current segment, as the job's context holds it */
  segmentSpan: Tracer.AnySpan | undefined
  /** the span of the resume that woke the job */
  resumedBy: Tracer.AnySpan | undefined
}

/** What the caller of start or resume receives: the job's next step. */
type Step = Exit.Exit<AsyncJob.JobResult<unknown, unknown>, unknown>
type Reply = (step: Step) => void

const variance = { _A: (_: never) => _, _E: (_: never) => _ }

/**
 * How many engine hand-offs (a job started, resumed, or its step handed to a
 * waiting caller, each on the stack of whoever caused it) may nest on one
 * JavaScript stack. Effect 4 runs a new fiber, and a fiber woken by a
 * `Deferred`, on the stack of the code that forks or wakes it, so a chain of
 * jobs resuming one another would otherwise grow the stack without bound
 * (about 800 links overflow it). Beyond the bound, the hand-off is scheduled
 * on the job's fiber instead, and the stack unwinds.
 */
const maxDepth = 64
let depth = 0

/**
 * One run of a job: the handle a caller holds between PAUSE and resume, and
 * what `AsyncJob.current` names inside the job (Port decision 1: fresh per run).
 */
class JobHandle extends Pipeable.Class implements AsyncJob.Job<unknown, unknown>, waitCtx.BoundJob {
  status: Status = Running
  /** what the job's pause waits on, while it is paused */
  pause: Deferred.Deferred<void> | undefined = undefined
  /** the job's own pause-block counter (Port decision 6) */
  blocked = 0
  /** the job's fiber, from the moment it is forked */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** whoever waits for the job's next step: the caller of start or resume */
  waiter: Reply | undefined = undefined
  /** a step delivered while its caller was still running the job on its own stack */
  pending: Step | undefined = undefined
  /** where the job's spans stand, when a tracer is installed (see `adoptSpan`) */
  trace: Trace | undefined
  /** the pool's live jobs, a list through their handles (see `PoolImpl.live`) */
  prevLive: JobHandle | undefined = undefined
  nextLive: JobHandle | undefined = undefined
  /** the job's code, until its fiber takes it (see `enter`) */
  body: Effect.Effect<unknown, unknown> | undefined

  constructor(
    readonly id: number,
    readonly pool: PoolImpl,
    readonly ctx: waitCtx.WaitCtxImpl | undefined,
    segmentSpan: Tracer.AnySpan | undefined,
    body: Effect.Effect<unknown, unknown>
  ) {
    super()
    this.trace = segmentSpan === undefined ? undefined : { segmentSpan, resumedBy: undefined }
    this.body = body
  }

  get [JobTypeId]() {
    return variance
  }

  /** how the wait ctx cancels this job when it closes (a paused job is cancelled before the cleanups run) */
  get cancelForClose(): Effect.Effect<void> {
    return cancelJob(this)
  }

  get poolId(): number {
    return this.pool.id
  }

  toJSON() {
    return { _id: "AsyncJob", id: this.id, poolId: this.pool.id, state: stateOf(this) }
  }
}

/** @internal */
export const isHandle = (u: unknown): u is JobHandle => u instanceof JobHandle

/**
 * The job whose code runs in a context: every fiber of a job (its own, and
 * those it forks, which inherit its context) finds it here. A reference with
 * no fiber-cached value, so adding it to the caller's context for the job's
 * fiber is one overlay, and the fiber shares its caller's context cache.
 */
const CurrentJob = Context.Reference<JobHandle | undefined>("@async-job/core/AsyncJob/CurrentJob", {
  defaultValue: () => undefined
})

/** The job whose code is running on this fiber. */
const jobOf = (fiber: Fiber.Fiber<unknown, unknown>): JobHandle | undefined => fiber.getRef(CurrentJob)

let nextPoolId = 1
let nextJobId = 1

const validate = (options: JobPool.Options): Exit.Exit<readonly [number, number], InvalidPoolSizeError> => {
  const { initSize, maxSize } = options
  const invalid = (reason: string) => Exit.fail(new InvalidPoolSizeError({ maxSize, initSize, reason }))
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
  return Exit.succeed([max, init] as const)
}

/**
 * A pool: OpenSSL's per-thread job pool, as counters and a set of fibers.
 *
 * OpenSSL keeps job records (each with a fibre and its stack) and reuses them;
 * here a job's fiber is made when the job starts and owned by the pool's
 * `FiberSet`, so closing the pool interrupts and awaits every job. `created`
 * and `idle` keep OpenSSL's bookkeeping (`initSize` slots up front, a slot
 * added when every slot is in use, never shrinking), which is what
 * `NoJobsError` and `PoolStats` report. `effect/Pool` is not used: a job slot
 * here is a counter, where a `Pool` item is an acquired resource with a
 * release to run.
 *
 * @internal
 */
export class PoolImpl implements JobPool.JobPool {
  readonly [PoolTypeId]: JobPool.TypeId = PoolTypeId
  readonly id = nextPoolId++
  created = 0
  running = 0
  paused = 0
  closed = false
  /**
   * The live jobs, newest first, linked through their handles: what `close`
   * marks as cancelling. The fibers are owned by `fibers`; this list only
   * names their jobs. A list costs a start nothing to allocate.
   */
  live: JobHandle | undefined = undefined

  constructor(
    public maxSize: number,
    initSize: number,
    readonly fibers: FiberSet.FiberSet<unknown, unknown>,
    readonly observer: JobObserver.JobObserver | undefined,
    /** the counters of the metric registry the pool reports to (see `metrics`) */
    readonly ledger: metrics.Ledger
  ) {
    this.grow(initSize)
  }

  grow(size: number): void {
    if (this.created < size) this.created = size
  }

  emit(event: JobObserver.JobEvent): void {
    this.observer?.onEvent(event)
  }

  statsUnsafe = (): JobPool.PoolStats => ({
    maxSize: this.maxSize,
    created: this.created,
    idle: this.created - this.running - this.paused,
    running: this.running,
    paused: this.paused
  })

  get stats(): Effect.Effect<JobPool.PoolStats> {
    return Effect.sync(this.statsUnsafe)
  }

  start = <A, E, R>(
    body: Effect.Effect<A, E, R>,
    options?: AsyncJob.StartOptions
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | NoJobsError, R> =>
    Effect.callback<AsyncJob.JobResult<A, E>, E | NoJobsError, R>((resume) =>
      this.startOn(Fiber.getCurrent()!, body as Effect.Effect<unknown, unknown>, options, resume as Resume)
    )

  /**
   * `start`, run by `caller` inside the registration of its wait for the
   * step (see `handOver`): answers through `resume`, and returns the wait's
   * canceller while the step has not come.
   */
  startOn(
    caller: Fiber.Fiber<unknown, unknown>,
    body: Effect.Effect<unknown, unknown>,
    options: AsyncJob.StartOptions | undefined,
    resume: Resume
  ): Effect.Effect<void> | undefined {
    const opened = span.open(caller, "AsyncJob.start", undefined)
    const ctx = options?.waitCtx
    const refused = this.admit(ctx)
    if (refused !== undefined) {
      span.close(opened, refused)
      resume(refused)
      return undefined
    }
    return handOver(caller, this.begin(caller.context, opened, body, waitCtx.implOrUndefined(ctx)), opened, resume)
  }

  /**
   * `start` for a caller outside any fiber: the job gets `context`, and
   * `onStep` gets its first step, at once if the job paused or finished on
   * this stack. No span is made.
   */
  startUnsafe<A, E>(
    context: Context.Context<never>,
    body: Effect.Effect<A, E>,
    options: AsyncJob.StartOptions | undefined,
    onStep: (step: Exit.Exit<AsyncJob.JobResult<A, E>, E | NoJobsError>) => void
  ): void {
    const ctx = options?.waitCtx
    const refused = this.admit(ctx)
    if (refused !== undefined) return onStep(refused)
    deliverTo(this.begin(context, undefined, body, waitCtx.implOrUndefined(ctx)), onStep as Reply)
  }

  /** Why a job may not start now (nothing changes then), or `undefined`. */
  private admit(ctx: WaitCtx.WaitCtx | undefined): Exit.Exit<never, NoJobsError> | undefined {
    if (this.closed) return Exit.die(new ClosedError({ what: "JobPool", id: this.id }))
    if (this.maxSize > 0 && this.running + this.paused >= this.maxSize) {
      this.ledger.noJobs++
      if (this.observer !== undefined) this.emit({ _tag: "NoJobs", poolId: this.id })
      return Exit.fail(new NoJobsError({ poolId: this.id, stats: this.statsUnsafe() }))
    }
    if (ctx !== undefined && !(ctx instanceof waitCtx.WaitCtxImpl)) {
      return Exit.die(new TypeError("AsyncJob.start: waitCtx is not a WaitCtx made by WaitCtx.make"))
    }
    if (ctx !== undefined && ctx.closed) return Exit.die(new ClosedError({ what: "WaitCtx", id: ctx.id }))
    return undefined
  }

  /** Takes a slot (`admit` said yes) and runs the job on this stack until its first step. */
  private begin(
    callerContext: Context.Context<never>,
    opened: span.OpenSpan | undefined,
    body: Effect.Effect<unknown, unknown>,
    ctx: waitCtx.WaitCtxImpl | undefined
  ): JobHandle {
    const context = opened === undefined ? callerContext : Context.add(callerContext, Tracer.ParentSpan, opened.span)
    const handle = new JobHandle(nextJobId++, this, ctx, opened?.span, body)
    this.running++
    if (this.created < this.running + this.paused) this.created = this.running + this.paused
    if (ctx !== undefined) ctx.jobs.add(handle)
    this.ledger.starts++
    if (this.observer !== undefined) this.emit({ _tag: "Started", poolId: this.id, jobId: handle.id })
    const newest = this.live
    handle.nextLive = newest
    if (newest !== undefined) newest.prevLive = handle
    this.live = handle
    launch(handle, Context.add(context, CurrentJob, handle))
    return handle
  }

  resume = <A, E>(
    job: AsyncJob.Job<A, E>
  ): Effect.Effect<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.callback<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>((resume) =>
      this.resumeOn(Fiber.getCurrent()!, job, resume as Resume)
    )

  /** `resume`, run by `caller` inside the registration of its wait for the step (see `startOn`). */
  resumeOn(
    caller: Fiber.Fiber<unknown, unknown>,
    job: AsyncJob.Job<unknown, unknown>,
    resume: Resume
  ): Effect.Effect<void> | undefined {
    if (!isHandle(job)) {
      resume(Effect.die(new TypeError("AsyncJob.resume: not a job handle")))
      return undefined
    }
    const opened = span.open(caller, "AsyncJob.resume", job.id)
    const status = job.status
    if (job.pool !== this || status._tag !== "Paused") {
      const refused = this.refusal(job)
      span.close(opened, refused)
      resume(refused)
      return undefined
    }
    return handOver(caller, this.wakeUp(job, opened), opened, resume)
  }

  /** `resume` for a caller outside any fiber (see `startUnsafe`). */
  resumeUnsafe<A, E>(
    job: AsyncJob.Job<A, E>,
    onStep: (step: Exit.Exit<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>) => void
  ): void {
    if (!isHandle(job)) return onStep(Exit.die(new TypeError("AsyncJob.resume: not a job handle")))
    const status = job.status
    if (job.pool !== this || status._tag !== "Paused") return onStep(this.refusal(job))
    deliverTo(this.wakeUp(job, undefined), onStep as Reply)
  }

  /**
   * Resumes a paused job on this stack until its next step (effect 4 runs a
   * fiber woken by a `Deferred` on the completer's stack), or schedules the
   * wake-up when the stack is already deep.
   */
  private wakeUp(handle: JobHandle, opened: span.OpenSpan | undefined): JobHandle {
    const deferred = handle.pause!
    handle.pause = undefined
    handle.status = Running
    this.paused--
    this.running++
    // the epoch reset of the changed-fds bookkeeping happens as the job is resumed
    if (handle.ctx !== undefined) waitCtx.resetChanges(handle.ctx)
    this.ledger.resumes++
    if (this.observer !== undefined) this.emit({ _tag: "Resumed", poolId: this.id, jobId: handle.id })
    handle.pending = undefined
    if (handle.trace !== undefined) handle.trace.resumedBy = opened?.span
    else if (opened !== undefined) handle.trace = { segmentSpan: undefined, resumedBy: opened.span }
    if (depth < maxDepth) {
      depth++
      try {
        Deferred.doneUnsafe(deferred, Exit.void)
      } finally {
        depth--
      }
    } else {
      handle.fiber!.currentDispatcher.scheduleTask(() => Deferred.doneUnsafe(deferred, Exit.void), 0)
    }
    return handle
  }

  cancel = (
    job: AsyncJob.Job<unknown, unknown>
  ): Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError> =>
    Effect.withFiber((caller) => {
      if (!isHandle(job)) return Effect.die(new TypeError("AsyncJob.cancel: not a job handle"))
      const status = job.status._tag
      // a second cancel of a job still unwinding waits for the same end
      const cancel = job.pool === this && status === "Cancelling"
        ? cancelJob(job)
        : job.pool !== this || status !== "Paused"
        ? this.refusal(job)
        : Effect.suspend(() => {
          this.ledger.cancellations++
          if (this.observer !== undefined) this.emit({ _tag: "CancelRequested", poolId: this.id, jobId: job.id })
          return cancelJob(job)
        })
      return span.isRecording(caller)
        ? Effect.withSpan(cancel, "AsyncJob.cancel", { attributes: { "async_job.id": job.id } })
        : cancel
    })

  reconfigure = (options: JobPool.Options): Effect.Effect<void, InvalidPoolSizeError> =>
    Effect.suspend(() => {
      const valid = validate(options)
      if (Exit.isFailure(valid)) return valid
      this.maxSize = valid.value[0]
      this.grow(valid.value[1])
      return Effect.void
    })

  /** Why `handle` may not be resumed or cancelled through this pool now. */
  refusal(handle: JobHandle): Exit.Exit<never, StaleJobError | JobNotPausedError | ForeignJobError> {
    if (handle.pool !== this) {
      return Exit.fail(new ForeignJobError({ jobId: handle.id, ownerPoolId: handle.pool.id, poolId: this.id }))
    }
    const status = handle.status
    switch (status._tag) {
      case "Running":
      case "Paused":
        return Exit.fail(new JobNotPausedError({ jobId: handle.id, poolId: this.id }))
      case "Cancelling":
        return Exit.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: "cancelling" }))
      case "Ended":
        return Exit.fail(new StaleJobError({ jobId: handle.id, poolId: this.id, state: status.outcome }))
    }
  }

  /**
   * `ASYNC_cleanup_thread`: every paused job's pending pause fails with an
   * interruption (Port decision 5), so a job paused inside an uninterruptible
   * region or a finalizer unwinds too; then the FiberSet interrupts every job
   * fiber and waits until each has unwound.
   */
  close: Effect.Effect<void> = Effect.withFiber((closer) => {
    if (this.closed) return Effect.void
    this.closed = true
    // collected first (a cancel may end a job, which unlinks it), then cancelled in the order they started
    const live: Array<JobHandle> = []
    for (let handle = this.live; handle !== undefined; handle = handle.nextLive) live.push(handle)
    for (const handle of live.reverse()) beginCancel(handle, closer.id)
    return FiberSet.clear(this.fibers).pipe(
      Effect.ensuring(Effect.sync(() => {
        metrics.detach(this.ledger, this)
        openPools.delete(this)
        this.emit({ _tag: "PoolClosed", poolId: this.id })
      }))
    )
  })

  toJSON() {
    return { _id: "JobPool", id: this.id, ...this.statsUnsafe() }
  }
}

/**
 * Forks the job's fiber (a root fiber with its caller's context: Port
 * decision 11) and runs it at once on the caller's stack until it pauses or
 * finishes (effect 4's `runForkWith` does that), unless the stack is already
 * deep: then its first run is scheduled. The fiber joins the pool's FiberSet
 * as its first operation (`enter`), before the job's code runs: code the job
 * runs on this stack may close the pool, which must find it there.
 */
const launch = (handle: JobHandle, context: Context.Context<never>): void => {
  if (depth < maxDepth) {
    depth++
    try {
      Effect.runForkWith(context)(enter)
    } finally {
      depth--
    }
  } else {
    adopt(handle, Effect.runForkWith(context)(deferredEnter))
  }
}

/** The pool's FiberSet owns the job's fiber. */
const adopt = (handle: JobHandle, fiber: Fiber.Fiber<unknown, unknown>): void => {
  handle.fiber = fiber
  FiberSet.addUnsafe(handle.pool.fibers, fiber)
}

/**
 * A job fiber's first operation: it is adopted, then runs the job's body (the
 * handle lends it once), whose last act is `observeEnd`.
 */
const enter: Effect.Effect<unknown, unknown> = Effect.withFiber((fiber) => {
  const handle = jobOf(fiber)!
  if (handle.fiber === undefined) adopt(handle, fiber)
  const body = handle.body!
  handle.body = undefined
  return Effect.onExit(body, observeEnd)
})

/**
 * The job's end, in two parts. As its body ends (its last frame), the job
 * ends for the pool: its slot returns, its state is final, `Ended` is
 * reported. Its last step goes to its caller once the job's fiber has ended,
 * after the fibers the job forked have been interrupted (effect does that
 * after the body's end), so a caller holding `Finished` knows every fiber of
 * the job has ended: a caller already waiting gets it from a fiber observer
 * registered here; a caller still on the stack that ran the job takes it from
 * `pending` (see `stepReady`). Nothing is registered when the job starts: a
 * paused job keeps its body's one frame and no closure or observers array of
 * its own (about a tenth of its heap).
 */
const observeEnd = (exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> => {
  // the body's last frame runs on the job's fiber
  const fiber = Fiber.getCurrent()!
  const handle = jobOf(fiber) ?? findByFiber(fiber)
  if (handle === undefined) return Effect.void
  const step = finish(handle, exit)
  const waiter = handle.waiter
  if (waiter === undefined) {
    handle.pending = step
  } else {
    handle.waiter = undefined
    fiber.addObserver(() => waiter(step))
  }
  return Effect.void
}

/**
 * The job of a job fiber whose own context no longer names it (its code
 * replaced the fiber's context wholesale): found in the open pools' live
 * lists. Only that rare path walks them.
 */
const findByFiber = (fiber: Fiber.Fiber<unknown, unknown>): JobHandle | undefined => {
  for (const pool of openPools) {
    for (let handle = pool.live; handle !== undefined; handle = handle.nextLive) {
      if (handle.fiber === fiber) return handle
    }
  }
  return undefined
}

/** Pools from their making until their close has unwound every job (see `findByFiber`). */
const openPools = new Set<PoolImpl>()

const deferredEnter = Effect.andThen(Effect.yieldNow, enter)

/**
 * Marks a job as being cancelled and, if it is paused, fails its pending pause
 * with an interruption: the pause wakes even inside an uninterruptible region
 * (an `acquire`, a finalizer), so the region ends and the job unwinds.
 */
const beginCancel = (handle: JobHandle, by: number): void => {
  const status = handle.status
  switch (status._tag) {
    case "Paused": {
      handle.status = Cancelling
      // a cancelling job is executing again (its finalizers): counted as running
      handle.pool.paused--
      handle.pool.running++
      depth++
      try {
        const deferred = handle.pause!
        handle.pause = undefined
        Deferred.doneUnsafe(deferred, Exit.interrupt(by))
      } finally {
        depth--
      }
      return
    }
    case "Running":
      handle.status = Cancelling
      return
    default:
      return
  }
}

/** Cancels a job (see `beginCancel`), interrupts its fiber and waits until it has unwound. */
const cancelJob = (handle: JobHandle): Effect.Effect<void> =>
  Effect.withFiber((by) => {
    beginCancel(handle, by.id)
    const fiber = handle.fiber
    return fiber === undefined || handle.status._tag === "Ended" ? Effect.void : Fiber.interrupt(fiber)
  })

/** The job's end for its pool (see `observeEnd`): its slot returns and its state is final. Answers its last step. */
const finish = (handle: JobHandle, exit: Exit.Exit<unknown, unknown>): Step => {
  const pool = handle.pool
  const { nextLive, prevLive } = handle
  if (prevLive !== undefined) prevLive.nextLive = nextLive
  else pool.live = nextLive
  if (nextLive !== undefined) nextLive.prevLive = prevLive
  handle.prevLive = handle.nextLive = undefined
  if (handle.status._tag === "Paused") pool.paused--
  else pool.running--
  const outcome: Outcome = Exit.isSuccess(exit)
    ? "finished"
    : Cause.hasInterruptsOnly(exit.cause)
    ? "cancelled"
    : "failed"
  handle.status = Ended[outcome]
  if (handle.ctx !== undefined) handle.ctx.jobs.delete(handle)
  pool.ledger[outcome]++
  if (pool.observer !== undefined) pool.emit({ _tag: "Ended", poolId: pool.id, jobId: handle.id, outcome })
  return Exit.isSuccess(exit) ? Exit.succeed({ _tag: "Finished", value: exit.value }) : Exit.failCause(exit.cause)
}

/** Hands a step to whoever waits for it, or keeps it for the caller still running the job on its stack. */
const deliver = (handle: JobHandle, step: Step): void => {
  const waiter = handle.waiter
  if (waiter === undefined) {
    handle.pending = step
    return
  }
  handle.waiter = undefined
  waiter(step)
}

/**
 * Whether the job's pending step may be handed over now: a `Paused` step at
 * once, the last step once the job's fiber has ended (see `observeEnd`).
 */
const stepReady = (handle: JobHandle): boolean =>
  handle.status._tag !== "Ended" || handle.fiber === undefined || handle.fiber.pollUnsafe() !== undefined

/** Hands the job's next step to `onStep`: now if it is there, else when it comes. */
const deliverTo = (handle: JobHandle, onStep: Reply): void => {
  const step = handle.pending
  if (step === undefined) {
    handle.waiter = onStep
  } else if (stepReady(handle)) {
    handle.pending = undefined
    onStep(step)
  } else {
    handle.pending = undefined
    handle.fiber!.addObserver(() => onStep(step))
  }
}

/** How a caller's wait for a job's step is completed (effect's `Effect.callback` resume). */
type Resume = (step: Effect.Effect<AsyncJob.JobResult<unknown, unknown>, unknown>) => void

/**
 * Hands the job's step to its caller. A start or resume runs inside the
 * registration of the caller's wait for the step (`Effect.callback`), and
 * the job runs on the caller's stack: usually it pauses or finishes there,
 * and its step is the answer at once. Otherwise (the job waits on something
 * asynchronous first) the caller waits, guarded: if it is interrupted before
 * it holds the step, the wait's canceller (which effect runs
 * uninterruptibly) cancels the job, and the caller's interruption completes
 * once the job has unwound. No orphans: a job whose caller went away is never
 * left running with nobody to hand its step to. Since the job ran inside the
 * registration, the guard is in place before the caller can see an
 * interruption requested while the job ran on its stack (effect 4 applies
 * such an interruption at the caller's next operation).
 *
 * A step that comes later reaches the caller on the stack of whoever produced
 * it (effect 4 resumes a waiting fiber synchronously), unless that stack is
 * already deep: then it is scheduled on the caller's fiber.
 */
const handOver = (
  caller: Fiber.Fiber<unknown, unknown>,
  handle: JobHandle,
  opened: span.OpenSpan | undefined,
  resume: Resume
): Effect.Effect<void> | undefined => {
  const step = handle.pending
  if (step !== undefined && stepReady(handle)) {
    handle.pending = undefined
    span.close(opened, step, handle.id)
    resume(step)
    return undefined
  }
  const reply: Reply = (step) => {
    span.close(opened, step, handle.id)
    if (depth < maxDepth) {
      depth++
      try {
        resume(step)
      } finally {
        depth--
      }
    } else {
      caller.currentDispatcher.scheduleTask(() => resume(step), 0)
    }
  }
  if (step === undefined) {
    handle.waiter = reply
  } else {
    // the job's body ended, and its fiber is still interrupting the fibers it forked
    handle.pending = undefined
    handle.fiber!.addObserver(() => reply(step))
  }
  return Effect.suspend(() => {
    // the step will not be taken: a later PAUSE or FINISH must not be handed to this caller
    handle.waiter = undefined
    return handle.status._tag === "Ended" ? Effect.void : cancelJob(handle)
  })
}

/**
 * After a resume that opened a span, the job's code runs under that span: its
 * context's parent span is replaced, unless the code paused inside a span of
 * its own (which stays the parent of what it opens).
 */
const adoptSpan = (handle: JobHandle): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    const trace = handle.trace
    const resumed = trace?.resumedBy
    if (trace === undefined || resumed === undefined) return Effect.void
    trace.resumedBy = undefined
    const context = fiber.context
    if (Context.getOrUndefined(context, Tracer.ParentSpan) !== trace.segmentSpan) return Effect.void
    trace.segmentSpan = resumed
    fiber.setContext(Context.add(context, Tracer.ParentSpan, resumed))
    return Effect.void
  })

/**
 * The pending pause: uninterruptible (see `pause`), then, where spans can be
 * seen (a tracer is installed), the resume's span adopted.
 */
const awaitResume = (
  fiber: Fiber.Fiber<unknown, unknown>,
  handle: JobHandle,
  deferred: Deferred.Deferred<void>
): Effect.Effect<void> => {
  const resumed = Effect.uninterruptible(Deferred.await(deferred))
  return span.isRecording(fiber) ? Effect.andThen(resumed, adoptSpan(handle)) : resumed
}

/**
 * `ASYNC_pause_job`. The pending pause is uninterruptible from inside the job:
 * a pause raced or timed out by the job's own code still waits for the resume
 * (or the cancel) that its caller holds the handle for. Only a cancel (or the
 * pool or wait ctx closing) ends it early, by failing it with an interruption.
 *
 * @internal
 */
export const pause: Effect.Effect<void> = Effect.withFiber((fiber) => {
  const handle = jobOf(fiber)
  if (handle === undefined || handle.blocked > 0) return Effect.void
  const status = handle.status
  switch (status._tag) {
    case "Running": {
      const deferred = Deferred.makeUnsafe<void>()
      const pool = handle.pool
      handle.status = Paused
      handle.pause = deferred
      pool.running--
      pool.paused++
      pool.ledger.pauses++
      if (pool.observer !== undefined) pool.emit({ _tag: "Paused", poolId: pool.id, jobId: handle.id })
      deliver(handle, Exit.succeed({ _tag: "Paused", job: handle }))
      return awaitResume(fiber, handle, deferred)
    }
    // another fiber of the same job paused it: wait for the same resume
    case "Paused":
      return awaitResume(fiber, handle, handle.pause!)
    // a job being cancelled cannot pause: its pause fails like the pending one did
    case "Cancelling":
      return Effect.interrupt
    case "Ended":
      return Effect.void
  }
})

const liveHandle = (fiber: Fiber.Fiber<unknown, unknown>): JobHandle | undefined => {
  const handle = jobOf(fiber)
  return handle !== undefined && handle.status._tag !== "Ended" ? handle : undefined
}

/** @internal */
export const current: Effect.Effect<Option.Option<AsyncJob.Job<unknown, unknown>>> = Effect.withFiber((fiber) =>
  Effect.succeed(Option.fromNullishOr(liveHandle(fiber)))
)

/** @internal */
export const blockPause: Effect.Effect<void> = Effect.withFiber((fiber) => {
  const handle = liveHandle(fiber)
  if (handle !== undefined) handle.blocked++
  return Effect.void
})

/** @internal */
export const unblockPause: Effect.Effect<void> = Effect.withFiber((fiber) => {
  const handle = liveHandle(fiber)
  if (handle !== undefined && handle.blocked > 0) handle.blocked--
  return Effect.void
})

/** @internal */
export const withPauseBlocked = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.withFiber<JobHandle | undefined>((fiber) => {
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
export const waitCtxUnsafe = (job: AsyncJob.Job<unknown, unknown>): Option.Option<WaitCtx.WaitCtx> => {
  if (!isHandle(job)) return Option.none()
  const status = job.status._tag
  return status === "Running" || status === "Paused" ? Option.fromNullishOr(job.ctx) : Option.none()
}

/**
 * Calls `onEnd` if the paused job ends (is cancelled) before it is resumed;
 * returns an unsubscribe function. Used by drivers that wait on something
 * else meanwhile.
 *
 * @internal
 */
export const onEndWhilePausedUnsafe = (job: AsyncJob.Job<unknown, unknown>, onEnd: () => void): () => void => {
  if (!isHandle(job) || job.status._tag !== "Paused") {
    onEnd()
    return () => {}
  }
  const handle = job
  const waiter: Reply = () => onEnd()
  handle.waiter = waiter
  return () => {
    if (handle.waiter === waiter) handle.waiter = undefined
  }
}

/** @internal */
export const stateOf = (job: AsyncJob.Job<unknown, unknown>): AsyncJob.JobState => {
  if (!isHandle(job)) throw new TypeError("AsyncJob.stateUnsafe: not a job handle")
  const status = job.status
  switch (status._tag) {
    case "Running":
      return "running"
    case "Paused":
      return "paused"
    case "Cancelling":
      return "cancelling"
    case "Ended":
      return status.outcome
  }
}

/** @internal */
export const make = (
  options: JobPool.Options = {}
): Effect.Effect<JobPool.JobPool, InvalidPoolSizeError, Scope.Scope> =>
  Effect.flatMap(
    validate(options),
    ([maxSize, initSize]) =>
      Effect.flatMap(FiberSet.make<unknown, unknown>(), (fibers) =>
        Effect.withFiber((fiber) => {
          const context = fiber.context
          const pool = new PoolImpl(
            maxSize,
            initSize,
            fibers,
            Context.getOrUndefined(context, ObserverTag),
            metrics.ledgerFor(context)
          )
          metrics.attach(pool.ledger, pool)
          openPools.add(pool)
          // runs before the FiberSet's finalizer, which then interrupts and awaits every job fiber
          return Effect.as(Effect.addFinalizer(() => pool.close), pool)
        }))
  )

/** @internal */
export const isPoolImpl = (u: unknown): u is PoolImpl => u instanceof PoolImpl

/**
 * `AsyncJob.start`: the pool looked up in the caller's context and the job
 * started in one operation (a pool that is not ours gets its own `start`).
 *
 * @internal
 */
export const startInContext = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  options: AsyncJob.StartOptions | undefined
): Effect.Effect<AsyncJob.JobResult<A, E>, E | NoJobsError, R | JobPool.JobPool> =>
  Effect.callback<AsyncJob.JobResult<A, E>, E | NoJobsError, R | JobPool.JobPool>((resume) => {
    const caller = Fiber.getCurrent()!
    const pool = Context.getOrUndefined(caller.context, tag)
    if (pool instanceof PoolImpl) {
      return pool.startOn(caller, body as Effect.Effect<unknown, unknown>, options, resume as Resume)
    }
    // another implementation of the service, or none (which fails as a missing service does)
    resume(Effect.flatMap(tag, (pool) => pool.start(body, options)))
  })

/**
 * `AsyncJob.resume`, like `startInContext`.
 *
 * @internal
 */
export const resumeInContext = <A, E>(
  job: AsyncJob.Job<A, E>
): Effect.Effect<
  AsyncJob.JobResult<A, E>,
  E | StaleJobError | JobNotPausedError | ForeignJobError,
  JobPool.JobPool
> =>
  Effect.callback<
    AsyncJob.JobResult<A, E>,
    E | StaleJobError | JobNotPausedError | ForeignJobError,
    JobPool.JobPool
  >((resume) => {
    const caller = Fiber.getCurrent()!
    const pool = Context.getOrUndefined(caller.context, tag)
    if (pool instanceof PoolImpl) return pool.resumeOn(caller, job, resume as Resume)
    resume(Effect.flatMap(tag, (pool) => pool.resume(job)))
  })
