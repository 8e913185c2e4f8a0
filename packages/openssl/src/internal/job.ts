/**
 * Jobs and the per-thread state of the facade.
 *
 * - The thread's pool is a core `JobPool` made in its own Scope; `ASYNC_cleanup_thread` closes that Scope.
 *   Module state is per JavaScript thread, since every worker thread loads its own copy of this module.
 * - Every facade job is a core job: its body (below) runs on the job fiber. The job function is an `async`
 *   JavaScript function, so `ASYNC_pause_job()` cannot run core's `AsyncJob.pause` itself: it sends the job
 *   fiber a "pause" signal, and the fiber pauses itself with `AsyncJob.pause`; when the job is resumed the
 *   fiber resolves the promise `ASYNC_pause_job()` returned. If the fiber is interrupted (cleanup, or the
 *   wait ctx freed), that promise rejects with a `JobCancelledError`, and the fiber ends only once the job
 *   function has settled, so its `finally` blocks have run.
 * - The job function runs in its own AsyncResource (capturing the caller's async context at start, as
 *   OpenSSL's job inherits the caller's default library context) and inside `storage.run(job)`, which is
 *   what `ASYNC_get_current_job()` reads.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import type * as Errors from "@async-job/core/Errors"
import * as JobPool from "@async-job/core/JobPool"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Runtime from "effect/Runtime"
import * as Scheduler from "effect/Scheduler"
import * as Scope from "effect/Scope"
import { AsyncLocalStorage, AsyncResource } from "node:async_hooks"
import type * as Api from "../Async.js"
import { copyArgs, CopyFailed } from "./args.js"
import { ASYNC_ERR, ASYNC_FINISH, ASYNC_NO_JOBS, ASYNC_PAUSE, type Box, isBox, type JobFn, noop } from "./codes.js"
import { isWaitCtx, type WaitCtxImpl } from "./waitCtx.js"

// ---------------------------------------------------------------------------------------------------------------------
// errors

/** The job function threw or rejected (Port decision 10). */
class JobFunctionError extends Data.TaggedError("JobFunctionError")<{ readonly error: unknown }> {}

/**
 * What the pending `ASYNC_pause_job()` of a cancelled job rejects with, and what `job.error` holds when a
 * running job was cancelled.
 *
 * @internal
 */
export class JobCancelledError extends Error {
  override readonly name = "JobCancelledError"
  readonly code = "ERR_ASYNC_JOB_CANCELLED"
  constructor() {
    super("the job was cancelled by ASYNC_cleanup_thread() or ASYNC_WAIT_CTX_free()")
  }
}

const resolved = (n: number): Promise<number> => Promise.resolve(n)

/** A rejected promise that does not count as unhandled if the job never awaits it. */
const rejected = (error: unknown): Promise<never> => {
  const promise = Promise.reject(error)
  promise.catch(noop)
  return promise
}

// ---------------------------------------------------------------------------------------------------------------------
// jobs

type Signal =
  | { readonly _tag: "Pause" }
  | { readonly _tag: "Done"; readonly exit: Exit.Exit<number, JobFunctionError> }

const pauseSignal: Signal = { _tag: "Pause" }

interface PendingPause {
  readonly promise: Promise<number>
  readonly resolve: (n: number) => void
  readonly reject: (error: unknown) => void
}

const pendingPause = (): PendingPause => {
  let resolve!: (n: number) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<number>((res, rej) => {
    resolve = res
    reject = rej
  })
  promise.catch(noop)
  return { promise, resolve, reject }
}

const storage = new AsyncLocalStorage<JobImpl>()

/**
 * One job run: the handle (`ASYNC_JOB*`) the caller holds and `ASYNC_get_current_job()` returns.
 *
 * @internal
 */
export class JobImpl implements Api.ASYNC_JOB {
  readonly _tag = "ASYNC_JOB"
  /** the core job, known from its first PAUSE */
  core: AsyncJob.Job<number, JobFunctionError> | undefined = undefined
  /** the job's own pause-block counter (Port decision 6) */
  blocked = 0
  /** interrupted: its pauses reject, its handle is stale */
  cancelled = false
  /** the job function has returned, thrown or rejected */
  settled = false
  /** the `ASYNC_pause_job()` the job's code waits in */
  pause: PendingPause | undefined = undefined
  /** resolves (never rejects) once the job function has settled; set when the function starts */
  ended: Promise<void> | undefined = undefined
  private readonly signals: Array<Signal> = []
  private wake: ((signal: Signal) => void) | undefined = undefined

  constructor(
    readonly thread: Thread,
    readonly ctx: WaitCtxImpl | null,
    readonly parent: JobImpl | undefined
  ) {}

  get pool(): JobPool.JobPool {
    return this.thread.pool
  }

  send(signal: Signal): void {
    const wake = this.wake
    if (wake === undefined) {
      this.signals.push(signal)
      return
    }
    this.wake = undefined
    wake(signal)
  }

  /** A signal sent while nobody waited, if any. */
  takeSignal(): Signal | undefined {
    return this.signals.shift()
  }

  /** The job fiber's next signal. */
  readonly next: Effect.Effect<Signal> = Effect.async<Signal>((resume) => {
    const queued = this.signals.shift()
    if (queued !== undefined) {
      resume(Effect.succeed(queued))
      return
    }
    // no canceller: if the job fiber is interrupted here, `body`'s onInterrupt unwinds the job function, and
    // a signal sent meanwhile goes to a resume that effect ignores once the wait was interrupted
    this.wake = (signal) => resume(Effect.succeed(signal))
  })

  launch(func: JobFn, arg: unknown, resource: AsyncResource): void {
    // known to the thread and the wait ctx from here to its end (a start refused with NO_JOBS never gets here)
    this.thread.jobs.add(this)
    this.ctx?.jobs.add(this)
    let result: unknown
    try {
      result = resource.runInAsyncScope(() => storage.run(this, func, arg))
    } catch (error) {
      result = Promise.reject(error)
    }
    this.ended = Promise.resolve(result).then(
      (value) => this.end(Exit.succeed(value as number)),
      (error) => this.end(Exit.fail(new JobFunctionError({ error })))
    )
  }

  private end(exit: Exit.Exit<number, JobFunctionError>): void {
    this.settled = true
    this.thread.jobs.delete(this)
    this.ctx?.jobs.delete(this)
    this.send({ _tag: "Done", exit })
  }

  /**
   * Marks the job cancelled at once, before core's interruption reaches its fiber, so that from the call of
   * `ASYNC_cleanup_thread` / `ASYNC_WAIT_CTX_free` on, the job can no longer pause.
   */
  cancel(): void {
    this.cancelled = true
  }

  /** Rejects the pause the job's code waits in, if any. */
  rejectPause(): void {
    const pause = this.pause
    this.pause = undefined
    pause?.reject(new JobCancelledError())
  }

  /** The fiber came back from `AsyncJob.pause`: the job's `ASYNC_pause_job()` returns 1. */
  resumed(): void {
    const pause = this.pause
    this.pause = undefined
    pause?.resolve(1)
  }

  toJSON() {
    return { _id: "ASYNC_JOB", id: this.core?.id, cancelled: this.cancelled, settled: this.settled }
  }
}

/**
 * The job fiber's loop: take the next signal (one the job function sent
 * while it ran on this stack is there already, so nothing waits); pause on
 * "Pause"; end with the function's outcome on "Done". Called from inside the
 * fiber's continuations only, so the queue is read when the fiber gets there.
 */
const loop = (job: JobImpl): Effect.Effect<number, JobFunctionError> => {
  const queued = job.takeSignal()
  return queued !== undefined ? onSignal(job, queued) : Effect.flatMap(job.next, (signal) => onSignal(job, signal))
}

const onSignal = (job: JobImpl, signal: Signal): Effect.Effect<number, JobFunctionError> => {
  if (signal._tag === "Done") return signal.exit
  if (job.cancelled) {
    // cancelled between the pause request and now: do not report a PAUSE for a job being cancelled
    job.rejectPause()
    return loop(job)
  }
  return Effect.zipRight(
    AsyncJob.pause,
    Effect.suspend(() => {
      job.resumed()
      return loop(job)
    })
  )
}

/** Cancellation: reject the pending pause, then wait until the job function has settled. */
const unwind = (job: JobImpl): Effect.Effect<void> =>
  Effect.suspend(() => {
    job.cancel()
    job.rejectPause()
    const ended = job.ended
    return ended === undefined ? Effect.void : Effect.promise(() => ended)
  })

/**
 * The job fiber: launches the job function and follows its signals. It runs
 * uninterruptibly: the job fiber only ever waits for the job function's next
 * signal or in core's pause, and a cancel (or the pool or wait ctx closing)
 * reaches it as the pause failing with an interruption (core fails the
 * pending pause first), or, while the function runs, as an interruption that
 * takes effect once the function has settled. Either way the function is
 * unwound (its pending pause rejected, its end awaited) before the fiber ends,
 * as cancellation requires. This costs one frame where `Effect.onInterrupt`
 * costs a mask and a match: it is on every job's path.
 */
const body = (
  job: JobImpl,
  func: JobFn,
  arg: unknown,
  resource: AsyncResource
): Effect.Effect<number, JobFunctionError> =>
  Effect.uninterruptible(Effect.catchAllCause(
    Effect.suspend(() => {
      job.launch(func, arg, resource)
      return loop(job)
    }),
    (cause) =>
      Cause.isInterrupted(cause) ? Effect.zipRight(unwind(job), Effect.failCause(cause)) : Effect.failCause(cause)
  ))

// ---------------------------------------------------------------------------------------------------------------------
// the thread

interface Thread {
  readonly pool: JobPool.JobPool
  /** what jobs start with: default context and FiberRefs, and the facade's immediate scheduler */
  readonly runtime: Runtime.Runtime<never>
  readonly scope: Scope.CloseableScope
  /** jobs whose function has not settled yet */
  readonly jobs: Set<JobImpl>
}

let thread: Thread | undefined
/** pools being closed by `ASYNC_cleanup_thread` */
const closing = new Set<Promise<void>>()

const makeThread = (maxSize: number, initSize: number): Thread | undefined => {
  const scope = Effect.runSync(Scope.make())
  const exit = Effect.runSyncExit(Scope.extend(JobPool.make({ maxSize, initSize }), scope))
  if (Exit.isSuccess(exit)) return { pool: exit.value, runtime: threadRuntime, scope, jobs: new Set() }
  Effect.runSync(Scope.close(scope, Exit.void))
  return undefined
}

/** @internal */
export const initThread = (maxSize: unknown, initSize: unknown): number => {
  try {
    if (typeof maxSize !== "number" || typeof initSize !== "number") return 0
    if (thread !== undefined) {
      return Exit.isSuccess(Effect.runSyncExit(thread.pool.reconfigure({ maxSize, initSize }))) ? 1 : 0
    }
    thread = makeThread(maxSize, initSize)
    return thread === undefined ? 0 : 1
  } catch {
    return 0
  }
}

/** @internal */
export const cleanupThread = (): Promise<void> => {
  try {
    // from inside a job this would wait for the calling job to unwind, which waits for this call: refuse
    if (currentJob() !== null) return Promise.resolve()
    const closed = thread
    thread = undefined
    if (closed !== undefined) {
      for (const job of closed.jobs) job.cancel()
      const done: Promise<void> = Effect.runPromise(Scope.close(closed.scope, Exit.void)).then(noop, noop).finally(
        () => closing.delete(done)
      )
      closing.add(done)
    }
    return Promise.all(closing).then(noop)
  } catch {
    return Promise.resolve()
  }
}

/**
 * The thread pool's counts, or `undefined` before the first start / `ASYNC_init_thread`. For tests.
 *
 * @internal
 */
export const unsafeThreadStats = (): Errors.PoolStats | undefined => thread?.pool.unsafeStats()

/**
 * How many jobs the thread knows as started and not yet settled. For tests.
 *
 * @internal
 */
export const unsafeLiveJobs = (): number => thread?.jobs.size ?? 0

// ---------------------------------------------------------------------------------------------------------------------
// ASYNC_start_job and friends

type JobBox = Box<unknown> & { error?: unknown }

type Step = Exit.Exit<
  AsyncJob.JobResult<number, JobFunctionError>,
  JobFunctionError | Errors.NoJobsError | Errors.StaleJobError | Errors.JobNotPausedError | Errors.ForeignJobError
>

/** Turns the outcome of a core start or resume into the facade's result and out-parameters. */
const settle = (exit: Step, jobBox: JobBox, retBox: Box<unknown>, job: JobImpl): number => {
  if (Exit.isSuccess(exit)) {
    if ("error" in jobBox) delete jobBox.error
    const step = exit.value
    if (step._tag === "Paused") {
      // the core job, what a restart resumes
      job.core = step.job
      jobBox.value = job
      return ASYNC_PAUSE
    }
    jobBox.value = null
    retBox.value = step.value
    return ASYNC_FINISH
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error._tag === "NoJobsError") return ASYNC_NO_JOBS
    if (error._tag === "JobFunctionError") {
      jobBox.value = null
      jobBox.error = error.error
    }
    // otherwise the job was refused (stale, not paused): nothing ran, nothing changed
    return ASYNC_ERR
  }
  // the job was cancelled while it was running
  jobBox.value = null
  jobBox.error = Cause.isInterruptedOnly(exit.cause) ? new JobCancelledError() : Cause.squash(exit.cause)
  return ASYNC_ERR
}

/**
 * The facade's scheduler: runs a task at once, on the stack that scheduled it
 * (up to a nesting bound, then through effect's default scheduler). The
 * fibers it runs are the facade's own: the fiber of each `ASYNC_start_job` call
 * and the job fibers that run the `loop` below (the job function itself is an
 * async function, outside any fiber). So when a job function's promise settles,
 * its fiber and the waiting call's fiber finish on that same turn, and the
 * call's promise resolves with no scheduler hop between.
 */
class Immediate implements Scheduler.Scheduler {
  private depth = 0
  shouldYield(fiber: Fiber.RuntimeFiber<unknown, unknown>): number | false {
    return Scheduler.defaultScheduler.shouldYield(fiber)
  }
  scheduleTask(task: Scheduler.Task, priority: number, fiber?: Fiber.RuntimeFiber<unknown, unknown>): void {
    if (this.depth >= 32) return Scheduler.defaultScheduler.scheduleTask(task, priority, fiber)
    this.depth++
    try {
      task()
    } finally {
      this.depth--
    }
  }
}

const immediate = new Immediate()

const threadRuntime: Runtime.Runtime<never> = Effect.runSync(Effect.withScheduler(Effect.runtime<never>(), immediate))

/**
 * Makes one call of `ASYNC_start_job`: `begin` starts or resumes the job with
 * core's callback-style API, and the call settles at once when the job paused
 * or finished on this stack (the usual case), or when its step comes.
 */
const call = (
  begin: (onStep: (exit: Step) => void) => void,
  jobBox: JobBox,
  retBox: Box<unknown>,
  job: JobImpl
): Promise<number> => {
  let code: number | undefined
  let resolveLater: ((code: number) => void) | undefined
  begin((exit) => {
    const settled = settleSafely(exit, jobBox, retBox, job)
    if (resolveLater === undefined) code = settled
    else resolveLater(settled)
  })
  if (code !== undefined) return resolved(code)
  return new Promise<number>((resolve) => {
    resolveLater = resolve
  })
}

const settleSafely = (exit: Step, jobBox: JobBox, retBox: Box<unknown>, job: JobImpl): number => {
  try {
    return settle(exit, jobBox, retBox, job)
  } catch {
    return ASYNC_ERR
  }
}

const resume = (jobBox: JobBox, retBox: Box<unknown>, handle: unknown): Promise<number> => {
  if (!(handle instanceof JobImpl) || handle.core === undefined || handle.cancelled || handle.settled) {
    return resolved(ASYNC_ERR)
  }
  const core = handle.core
  return call((onStep) => JobPool.unsafeResume(handle.pool, core, onStep), jobBox, retBox, handle)
}

/** @internal */
export const startJob = (
  jobBox: unknown,
  ctx: unknown,
  retBox: unknown,
  func: unknown,
  args: unknown,
  size: unknown
): Promise<number> => {
  try {
    if (!isBox(jobBox) || !isBox(retBox)) return resolved(ASYNC_ERR)
    const handle = jobBox.value
    // restart: func, args, size and ctx are ignored, as in OpenSSL
    if (handle !== null && handle !== undefined) return resume(jobBox, retBox, handle)
    if (typeof func !== "function") return resolved(ASYNC_ERR)
    if (ctx !== null && ctx !== undefined && (!isWaitCtx(ctx) || ctx.freeing !== undefined)) return resolved(ASYNC_ERR)
    if (size !== undefined && typeof size !== "number") return resolved(ASYNC_ERR)
    const arg = copyArgs(args, size)
    if (arg === CopyFailed) return resolved(ASYNC_ERR)
    thread ??= makeThread(0, 0)
    if (thread === undefined) return resolved(ASYNC_ERR)
    const waitCtx = isWaitCtx(ctx) ? ctx : null
    const job = new JobImpl(thread, waitCtx, currentJob() ?? undefined)
    const { pool, runtime } = thread
    // captures the caller's async context for the job's first segment, and keeps what the job sets in it apart
    const resource = new AsyncResource("ASYNC_JOB")
    const jobBody = body(job, func as JobFn, arg, resource)
    const options = { waitCtx: waitCtx?.core }
    return call((onStep) => JobPool.unsafeStart(pool, runtime, jobBody, options, onStep), jobBox, retBox, job)
  } catch {
    return resolved(ASYNC_ERR)
  }
}

/** @internal */
export const pauseJob = (): Promise<number> => {
  const job = storage.getStore()
  if (job === undefined || job.settled) return resolved(1)
  if (job.cancelled) return rejected(new JobCancelledError())
  if (job.blocked > 0) return resolved(1)
  if (job.pause !== undefined) return job.pause.promise
  const pause = pendingPause()
  job.pause = pause
  job.send(pauseSignal)
  return pause.promise
}

/** @internal */
export const currentJob = (): JobImpl | null => {
  const job = storage.getStore()
  return job !== undefined && !job.settled ? job : null
}

/** @internal */
export const getWaitCtx = (job: unknown): WaitCtxImpl | null =>
  job instanceof JobImpl && !job.settled && !job.cancelled ? job.ctx : null

/** @internal */
export const blockPause = (): void => {
  const job = currentJob()
  if (job !== null) job.blocked++
}

/** @internal */
export const unblockPause = (): void => {
  const job = currentJob()
  if (job !== null && job.blocked > 0) job.blocked--
}

/** @internal */
export const freeWaitCtx = (ctx: unknown): Promise<void> => {
  try {
    if (!isWaitCtx(ctx)) return Promise.resolve()
    if (ctx.freeing !== undefined) return ctx.freeing
    // from inside a job bound to ctx (or started by one) this would wait for the caller to unwind: refuse
    for (let job = currentJob(); job !== null; job = job.parent ?? null) {
      if (job.ctx === ctx && !job.settled) return Promise.resolve()
    }
    for (const job of ctx.jobs) job.cancel()
    ctx.freeing = Effect.runPromise(Scope.close(ctx.scope, Exit.void)).then(noop, noop)
    return ctx.freeing
  } catch {
    return Promise.resolve()
  }
}
