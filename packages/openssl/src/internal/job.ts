/**
 * Jobs and the per-thread state of the facade.
 *
 * - The thread's pool is a core `JobPool` made in its own Scope; `ASYNC_cleanup_thread` closes that Scope.
 *   Module state is per JavaScript thread, since every worker thread loads its own copy of this module.
 * - Every facade job is a core job: its body (below) runs on the job fiber. The job function is an `async`
 *   JavaScript function, so `ASYNC_pause_job()` cannot run core's `AsyncJob.pause` itself: it asks the job
 *   fiber to pause, and the fiber pauses itself with `AsyncJob.pause`; when the job is resumed the
 *   fiber resolves the promise `ASYNC_pause_job()` returned. If the fiber is interrupted (cleanup, or the
 *   wait ctx freed), that promise rejects with a `JobCancelledError`, and the fiber ends only once the job
 *   function has settled, so its `finally` blocks have run.
 * - The job function runs in its own AsyncResource (capturing the caller's async context at start, as
 *   OpenSSL's job inherits the caller's default library context) and inside `storage.run(job)`, which is
 *   what `ASYNC_get_current_job()` reads. (On Node 24 `storage.run` alone would isolate the caller, since
 *   async context is a frame there; on Node 22's async-hooks storage, an `enterWith` in the job's first
 *   segment would reach the caller's resource without the job's own.)
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import type * as Errors from "@async-job/core/Errors"
import * as JobPool from "@async-job/core/JobPool"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
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

const storage = new AsyncLocalStorage<JobImpl>()

/**
 * One job run: the handle (`ASYNC_JOB*`) the caller holds and `ASYNC_get_current_job()` returns.
 *
 * The job function reaches its job fiber through two fields, `pauseRequested` (set by `ASYNC_pause_job()`)
 * and `outcome` (set once the function has settled), and wakes the fiber if it waits for them; the fiber
 * reads them in `step`. No message objects: the job's path allocates as little as it can.
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
  /** `ASYNC_pause_job()` asked for a pause that the job fiber has not taken yet */
  pauseRequested = false
  /** how the job function settled, once it has */
  outcome: Exit.Exit<number, JobFunctionError> | undefined = undefined
  /** the promise of the `ASYNC_pause_job()` the job's code waits in, and how to settle it */
  pausePromise: Promise<number> | undefined = undefined
  private resolvePause: ((n: number) => void) | undefined = undefined
  private rejectPausePromise: ((error: unknown) => void) | undefined = undefined
  /** resolves (never rejects) once the job function has settled; set when the function starts */
  ended: Promise<void> | undefined = undefined
  /** resumes the job fiber while it waits for the function (see `step`) */
  wake: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  /** the thread's other live jobs (see `Thread.live`) */
  prevLive: JobImpl | undefined = undefined
  nextLive: JobImpl | undefined = undefined
  /** the fiber's pause and its wait for the function, made once per job when first needed */
  pausing: Effect.Effect<number, JobFunctionError> | undefined = undefined
  waiting: Effect.Effect<number, JobFunctionError> | undefined = undefined

  constructor(
    readonly thread: Thread,
    readonly ctx: WaitCtxImpl | null,
    readonly parent: JobImpl | undefined
  ) {}

  get pool(): JobPool.JobPool {
    return this.thread.pool
  }

  /** Wakes the job fiber if it waits for the function. */
  private poke(): void {
    const wake = this.wake
    if (wake === undefined) return
    this.wake = undefined
    wake(Effect.void)
  }

  /** `ASYNC_pause_job()` of a running job: the fiber is asked to pause; resolves once the job is resumed. */
  requestPause(): Promise<number> {
    const pending = this.pausePromise
    if (pending !== undefined) return pending
    const promise = new Promise<number>((resolve, reject) => {
      this.resolvePause = resolve
      this.rejectPausePromise = reject
    })
    this.pausePromise = promise
    this.pauseRequested = true
    this.poke()
    return promise
  }

  launch(func: JobFn, arg: unknown, resource: AsyncResource): void {
    // known to the thread and the wait ctx from here to its end (a start refused with NO_JOBS never gets here)
    this.thread.add(this)
    this.ctx?.jobs.add(this)
    let result: unknown
    try {
      result = resource.runInAsyncScope(storage.run, storage, this, func, arg)
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
    this.thread.remove(this)
    this.ctx?.jobs.delete(this)
    this.outcome = exit
    this.poke()
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
    const promise = this.pausePromise
    const reject = this.rejectPausePromise
    this.pausePromise = this.resolvePause = this.rejectPausePromise = undefined
    if (promise === undefined || reject === undefined) return
    // handled here, so that a job that never awaits its pause leaves no unhandled rejection
    promise.catch(noop)
    reject(new JobCancelledError())
  }

  /** The fiber came back from `AsyncJob.pause`: the job's `ASYNC_pause_job()` returns 1. */
  resumed(): void {
    const resolve = this.resolvePause
    this.pausePromise = this.resolvePause = this.rejectPausePromise = undefined
    resolve?.(1)
  }

  toJSON() {
    return { _id: "ASYNC_JOB", id: this.core?.id, cancelled: this.cancelled, settled: this.settled }
  }
}

/**
 * The job fiber's next move: pause when the function asked to (a request made while the function ran on
 * this stack is there already, so nothing waits), end with the function's outcome once it has settled, or
 * else wait until one of the two comes. Run from inside the fiber only, so the fields are read when the fiber
 * gets there. A pause requested before the function settled is taken first, as the function made it first.
 */
const step = (job: JobImpl): Effect.Effect<number, JobFunctionError> => {
  if (job.pauseRequested) {
    job.pauseRequested = false
    if (job.cancelled) {
      // cancelled between the pause request and now: do not report a PAUSE for a job being cancelled
      job.rejectPause()
      return step(job)
    }
    return job.pausing ??= Effect.andThen(
      AsyncJob.pause,
      Effect.suspend(() => {
        job.resumed()
        return step(job)
      })
    )
  }
  const outcome = job.outcome
  if (outcome !== undefined) return outcome
  // no canceller: the job fiber waits here uninterruptibly (see `body`); effect 4 runs the fiber on the stack
  // of whoever wakes it (the job function's code), so the request is taken on that same turn
  return job.waiting ??= Effect.andThen(
    Effect.callback<void>((resume) => {
      job.wake = resume
    }),
    Effect.suspend(() => step(job))
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
 * The job fiber: launches the job function and follows its requests. It runs
 * uninterruptibly: the job fiber only ever waits for the job function's next
 * request or in core's pause, and a cancel (or the pool or wait ctx closing)
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
  Effect.uninterruptible(Effect.catchCause(
    Effect.suspend(() => {
      job.launch(func, arg, resource)
      return step(job)
    }),
    (cause) =>
      Cause.hasInterrupts(cause) ? Effect.andThen(unwind(job), Effect.failCause(cause)) : Effect.failCause(cause)
  ))

// ---------------------------------------------------------------------------------------------------------------------
// the thread

class Thread {
  /**
   * The jobs whose function has not settled yet, newest first, linked through their handles: what
   * `ASYNC_cleanup_thread` cancels. A list costs a start nothing to allocate or hash.
   */
  live: JobImpl | undefined = undefined
  liveCount = 0
  /** what jobs start with: effect's defaults (see `threadContext`) */
  readonly context: Context.Context<never> = threadContext

  constructor(readonly pool: JobPool.JobPool, readonly scope: Scope.Closeable) {}

  add(job: JobImpl): void {
    const newest = this.live
    job.nextLive = newest
    if (newest !== undefined) newest.prevLive = job
    this.live = job
    this.liveCount++
  }

  remove(job: JobImpl): void {
    const { nextLive, prevLive } = job
    if (prevLive !== undefined) prevLive.nextLive = nextLive
    else if (this.live === job) this.live = nextLive
    else return
    if (nextLive !== undefined) nextLive.prevLive = prevLive
    job.prevLive = job.nextLive = undefined
    this.liveCount--
  }
}

let thread: Thread | undefined
/** pools being closed by `ASYNC_cleanup_thread` */
const closing = new Set<Promise<void>>()

const makeThread = (maxSize: number, initSize: number): Thread | undefined => {
  const scope = Scope.makeUnsafe()
  const exit = Effect.runSyncExit(Scope.provide(JobPool.make({ maxSize, initSize }), scope))
  if (Exit.isSuccess(exit)) return new Thread(exit.value, scope)
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
      for (let job = closed.live; job !== undefined; job = job.nextLive) job.cancel()
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
export const threadStatsUnsafe = (): Errors.PoolStats | undefined => thread?.pool.statsUnsafe()

/**
 * How many jobs the thread knows as started and not yet settled. For tests.
 *
 * @internal
 */
export const liveJobsUnsafe = (): number => thread?.liveCount ?? 0

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
  const failure = Cause.findErrorOption(exit.cause)
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
  jobBox.error = Cause.hasInterruptsOnly(exit.cause) ? new JobCancelledError() : Cause.squash(exit.cause)
  return ASYNC_ERR
}

/**
 * What every job of the thread starts with: effect's defaults, nothing of the caller's (a facade caller is
 * plain JavaScript, outside any fiber). The facade needs no scheduler of its own on effect 4: a fiber waiting
 * in `Effect.callback` or on a `Deferred` resumes on the stack of whoever wakes it, so when a job function's
 * promise settles, its job fiber and the waiting `ASYNC_start_job` call finish on that same turn, with no
 * scheduler hop between. One context for every job: the fibers share its cache (core adds the job to it).
 */
const threadContext: Context.Context<never> = Context.empty()

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
  return call((onStep) => JobPool.resumeUnsafe(handle.pool, core, onStep), jobBox, retBox, handle)
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
    const { context, pool } = thread
    // captures the caller's async context for the job's first segment, and keeps what the job sets in it apart
    const resource = new AsyncResource("ASYNC_JOB")
    const jobBody = body(job, func as JobFn, arg, resource)
    const options = waitCtx === null ? undefined : waitCtx.startOptions
    return call((onStep) => JobPool.startUnsafe(pool, context, jobBody, options, onStep), jobBox, retBox, job)
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
  return job.requestPause()
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
