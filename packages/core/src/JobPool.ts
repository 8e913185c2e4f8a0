/**
 * The job pool: OpenSSL's per-thread pool of ASYNC jobs, as a service.
 *
 * A pool bounds how many jobs may be outstanding (running or paused) at once,
 * and keeps OpenSSL's bookkeeping of job slots: `initSize` created up front,
 * one more whenever every slot is in use, finished jobs' slots reused. Each
 * job run is an Effect fiber of its own, owned by the pool's `FiberSet`.
 * Closing the pool's scope is `ASYNC_cleanup_thread`: every paused job's
 * pending pause fails with an interruption and every job is interrupted, its
 * finalizers run, and the scope closes only once all of them have unwound.
 *
 * Most code uses the pool through {@link AsyncJob}'s functions, which take it
 * from the context; provide it with {@link layer}.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Scope from "effect/Scope"
import type * as AsyncJob from "./AsyncJob.js"
import type { ForeignJobError, InvalidPoolSizeError, JobNotPausedError, NoJobsError, StaleJobError } from "./Errors.js"
import * as internal from "./internal/jobPool.js"

/**
 * The brand of job pools: a pool carries it as a key (see {@link isJobPool}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.PoolTypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The limits of a pool (`ASYNC_init_thread(max_size, init_size)`).
 *
 * **Details**
 *
 * - `maxSize`: the most jobs outstanding at once. Omitted or 0: unbounded.
 * - `initSize`: job slots created up front. Default 0. It may not exceed a
 *   given `maxSize`, so `{ maxSize: 0, initSize: 5 }` is refused, as OpenSSL
 *   refuses `ASYNC_init_thread(0, 5)`; omit `maxSize` instead.
 * - Both must be integers from 0 to 2^31−1.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly maxSize?: number | undefined
  readonly initSize?: number | undefined
}

/**
 * A snapshot of a pool's counts, as carried by errors and returned by `JobPool.stats`.
 *
 * @since 0.1.0
 * @category models
 */
export interface PoolStats {
  /** The most jobs outstanding (running + paused) at once; 0 means unbounded, as in OpenSSL. */
  readonly maxSize: number
  /** Job slots ever created; never shrinks (OpenSSL's `curr_size`). */
  readonly created: number
  /** Created slots not in use. */
  readonly idle: number
  /** Jobs executing, being resumed, or unwinding after a cancel. */
  readonly running: number
  /** Jobs paused, waiting for a resume. */
  readonly paused: number
}

/**
 * The service. `start`, `resume` and `cancel` are also available as
 * `AsyncJob.start`, `AsyncJob.resume` and `AsyncJob.cancel`, which take the
 * pool from the context.
 *
 * **Gotchas**
 *
 * The jobs are this engine's: `AsyncJob.pause`, `current` and the pause
 * blocking recognise the jobs of pools made by {@link make} (or
 * {@link layer}) only. A `JobPool` of your own therefore decorates one of
 * them, delegating its operations (to meter, log or limit them), rather than
 * running jobs of its own; `@async-job/testing`'s `testJobPool` checks that
 * such a pool keeps the contract.
 *
 * @since 0.1.0
 * @category models
 */
export interface JobPool {
  readonly [TypeId]: TypeId
  /** A number unique in this process, for logs and errors. */
  readonly id: number
  /** See {@link AsyncJob.start}. */
  readonly start: <A, E, R>(
    body: Effect.Effect<A, E, R>,
    options?: AsyncJob.StartOptions
  ) => Effect.Effect<AsyncJob.JobResult<A, E>, E | NoJobsError, R>
  /** See {@link AsyncJob.resume}. */
  readonly resume: <A, E>(
    job: AsyncJob.Job<A, E>
  ) => Effect.Effect<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>
  /** See {@link AsyncJob.cancel}. */
  readonly cancel: (
    job: AsyncJob.Job<unknown, unknown>
  ) => Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError>
  /** The pool's counts now. */
  readonly stats: Effect.Effect<PoolStats>
  /** The synchronous form of `stats`. */
  readonly statsUnsafe: () => PoolStats
  /**
   * Replaces the limits, as a second `ASYNC_init_thread` does (where OpenSSL
   * leaks the old pool): jobs already outstanding count against the new
   * `maxSize`; slots are added up to `initSize`; nothing is dropped.
   */
  readonly reconfigure: (options: Options) => Effect.Effect<void, InvalidPoolSizeError>
}

/**
 * The pool's service tag, which {@link AsyncJob}'s functions read the pool from.
 *
 * @since 0.1.0
 * @category services
 */
export const JobPool: Context.Service<JobPool, JobPool> = internal.tag

/**
 * Creates a pool owned by the current scope.
 *
 * @example
 * ```ts
 * import * as JobPool from "@async-job/core/JobPool"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* JobPool.make({ maxSize: 4, initSize: 2 })
 *   // { maxSize: 4, created: 2, idle: 2, running: 0, paused: 0 }
 *   return yield* pool.stats
 * }))
 * ```
 *
 * @param options - The pool's limits; omitted, the pool is unbounded and starts with no slot.
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<JobPool, InvalidPoolSizeError, Scope.Scope> = internal.make

/**
 * A layer providing a pool; closing the layer's scope cancels every
 * outstanding job and waits until all have unwound.
 *
 * **Gotchas**
 *
 * A pool is the project's "thread": jobs started through one pool can be
 * resumed only through it. Bind a parameterised layer to a constant once, so
 * that one pool is shared where you mean it to be.
 *
 * @param options - The pool's limits; omitted, the pool is unbounded and starts with no slot.
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<JobPool, InvalidPoolSizeError> =>
  Layer.effect(JobPool, make(options))

/**
 * Whether a value is a job pool.
 *
 * @param u - Any value.
 * @since 0.1.0
 * @category guards
 */
export const isJobPool = (u: unknown): u is JobPool => Predicate.hasProperty(u, TypeId)

/**
 * `start` for a caller outside any fiber, for bridges to callback or Promise
 * APIs (the OpenSSL facade uses it); Effect code uses `AsyncJob.start`. The job
 * runs with `context` (for example one taken with `Effect.context()`), and
 * `onStep` is called once with its first step: synchronously when the job
 * pauses or finishes at once, later otherwise. No span is made.
 *
 * @typeParam A The job's result.
 * @typeParam E The job's error.
 * @param self The pool to take the job's slot from.
 * @param context The services and references the job runs with.
 * @param body The job.
 * @param options The job's wait ctx, if any.
 * @param onStep Called once with the job's first step, or with why it did not start.
 * @since 0.2.0
 * @category unsafe
 */
export const startUnsafe = <A, E>(
  self: JobPool,
  context: Context.Context<never>,
  body: Effect.Effect<A, E>,
  options: AsyncJob.StartOptions | undefined,
  onStep: (step: Exit.Exit<AsyncJob.JobResult<A, E>, E | NoJobsError>) => void
): void => {
  if (!internal.isPoolImpl(self)) {
    return onStep(Exit.die(new TypeError("JobPool.startUnsafe: not a pool of this engine")))
  }
  self.startUnsafe(context, body, options, onStep)
}

/**
 * `resume` for a caller outside any fiber (see {@link startUnsafe}): `onStep`
 * is called once with the job's next step, or with why it may not be resumed.
 *
 * @typeParam A The job's result.
 * @typeParam E The job's error.
 * @param self The pool that started the job.
 * @param job The paused job.
 * @param onStep Called once with the job's next step, or with why it may not be resumed.
 * @since 0.2.0
 * @category unsafe
 */
export const resumeUnsafe = <A, E>(
  self: JobPool,
  job: AsyncJob.Job<A, E>,
  onStep: (step: Exit.Exit<AsyncJob.JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError>) => void
): void => {
  if (!internal.isPoolImpl(self)) {
    return onStep(Exit.die(new TypeError("JobPool.resumeUnsafe: not a pool of this engine")))
  }
  self.resumeUnsafe(job, onStep)
}
