/**
 * The job API: `ASYNC_start_job`, `ASYNC_pause_job` and friends, Effect-native.
 *
 * A job is an Effect running on its own fiber, drawn from a {@link JobPool}.
 * {@link start} runs it until it pauses or finishes, and answers
 * `Finished(value)` or `Paused(job)`; {@link resume} continues a paused job
 * from its pause. Inside the job, {@link pause} is a `Deferred` suspension:
 * control returns to whoever started or resumed the job.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as AsyncJob from "@async-job/core/AsyncJob"
 * import * as JobPool from "@async-job/core/JobPool"
 *
 * const body = Effect.gen(function*() {
 *   yield* Effect.log("first segment")
 *   yield* AsyncJob.pause
 *   yield* Effect.log("second segment")
 *   return 42
 * })
 *
 * const program = Effect.gen(function*() {
 *   const step = yield* AsyncJob.start(body) // Paused
 *   if (step._tag === "Paused") {
 *     const done = yield* AsyncJob.resume(step.job) // Finished(42)
 *     return done
 *   }
 *   return step
 * }).pipe(Effect.provide(JobPool.layer({ maxSize: 8 })))
 * ```
 *
 * **Observability**
 *
 * `start`, `resume`, `cancel` and `run` open spans named `AsyncJob.start`,
 * `AsyncJob.resume`, `AsyncJob.cancel` and `AsyncJob.run`; those of `start`,
 * `resume` and `cancel` carry the job's id as `async_job.id`, and are made
 * whether called here or on the pool itself, whenever a tracer is installed (with effect's built-in
 * tracer, which keeps spans nowhere, none is made: it would cost a third of a
 * cycle for nothing). `Effect.withTracerEnabled(false)` turns them off. Every
 * pool reports the metrics of `JobMetrics`.
 *
 * Spans opened inside a job are children of the span of the `start` or
 * `resume` that ran them: the job's context carries that span as its parent,
 * and each resume replaces it. A span the job's own code opened and paused
 * inside stays the parent of what is opened within it after the resume; once
 * it ends, its own parent (the span current when it began) is the parent again.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Inspectable from "effect/Inspectable"
import type * as Option from "effect/Option"
import type { Pipeable } from "effect/Pipeable"
import type * as Types from "effect/Types"
import type { ForeignJobError, JobNotPausedError, JobTimeoutError, NoJobsError, StaleJobError } from "./Errors.js"
import * as internal from "./internal/jobPool.js"
import * as runInternal from "./internal/run.js"
import { JobPool } from "./JobPool.js"
import type * as WaitCtx from "./WaitCtx.js"

/**
 * The brand of job handles: a handle carries it as a key (see {@link Job}).
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = internal.JobTypeId

/**
 * The type of {@link TypeId}.
 *
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Where a job run is. `cancelling` is a job being cancelled (by
 * {@link cancel}, its pool closing or its wait ctx closing) whose finalizers
 * are still running: it can no longer be resumed (`StaleJobError`), a
 * second cancel waits for the same end and succeeds, and its wait ctx reads
 * as `None`. `finished`, `failed` and `cancelled` are final: the handle is
 * stale from then on.
 *
 * @since 0.1.0
 * @category models
 */
export type JobState = "running" | "paused" | "cancelling" | "finished" | "failed" | "cancelled"

/**
 * A job handle (`ASYNC_JOB*`): one run of a job. Every run gets a fresh
 * handle, equal (`===`) in the caller and inside the job; a handle is never
 * reused for another run, so a stale one is refused rather than misdirected.
 *
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category models
 */
export interface Job<out A = unknown, out E = unknown> extends Pipeable, Inspectable.Inspectable {
  readonly [TypeId]: {
    readonly _A: Types.Covariant<A>
    readonly _E: Types.Covariant<E>
  }
  /** A number unique in this process. */
  readonly id: number
  /** The id of the pool that owns the job. */
  readonly poolId: number
}

/**
 * The job ran to its end and succeeded (`ASYNC_FINISH`).
 *
 * @typeParam A - What the job's body succeeds with.
 * @since 0.1.0
 * @category models
 */
export interface Finished<out A> {
  readonly _tag: "Finished"
  readonly value: A
}

/**
 * The job paused (`ASYNC_PAUSE`); resume it with its handle.
 *
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category models
 */
export interface Paused<out A, out E> {
  readonly _tag: "Paused"
  readonly job: Job<A, E>
}

/**
 * What {@link start} and {@link resume} answer.
 *
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category models
 */
export type JobResult<A, E> = Finished<A> | Paused<A, E>

/**
 * Options of {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartOptions {
  /**
   * The wait ctx the job publishes its wait fds on (`ASYNC_start_job`'s
   * `ctx`). Optional: without one the job can still pause, and the
   * wait-fd bookkeeping is skipped (OpenSSL 3.0 crashes on such a job's
   * resume; here it is allowed).
   */
  readonly waitCtx?: WaitCtx.WaitCtx | undefined
}

/**
 * Starts `body` as a job from the pool in context, and runs it until it
 * pauses or finishes.
 *
 * **Details**
 *
 * - Succeeds with `Finished(value)` or `Paused(job)`.
 * - Fails with {@link NoJobsError} when the pool is full (nothing happened:
 *   retry later), or with the body's own error when the job fails.
 * - The job runs on its own fiber, with its caller's context (services and
 *   `Context.Reference`s): what the job changes for the rest of its fiber
 *   does not leak back, and what the caller changes between segments does
 *   not reach the job (OpenSSL swaps the default library context the same
 *   way).
 * - If the calling fiber is interrupted while the job runs, the job is
 *   interrupted too, and the interruption completes once it has unwound.
 * - Jobs may start jobs (nested jobs draw from the same pool and return to
 *   the outer job), and several may run at once, each on its own fiber.
 *
 * @param body - The job's code: an Effect that may {@link pause}.
 * @param options - The wait ctx to bind the job to, if any.
 * @typeParam A - What the body succeeds with.
 * @typeParam E - What the body fails with.
 * @typeParam R - The services the body needs.
 * @since 0.1.0
 * @category constructors
 */
export const start = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  options?: StartOptions
): Effect.Effect<JobResult<A, E>, E | NoJobsError, R | JobPool> => internal.startInContext(body, options)

/**
 * Continues a paused job after its pause, until it pauses again or finishes.
 *
 * **Details**
 *
 * Fails, leaving the job untouched, with {@link StaleJobError} (the run
 * ended, or is being cancelled), {@link JobNotPausedError} (running,
 * or being resumed by another fiber) or {@link ForeignJobError} (the job
 * belongs to another pool).
 *
 * @param job - The handle that `start` (or an earlier `resume`) answered with `Paused`.
 * @typeParam A - What the job's body succeeds with.
 * @typeParam E - What the job's body fails with.
 * @since 0.1.0
 * @category combinators
 */
export const resume = <A, E>(
  job: Job<A, E>
): Effect.Effect<JobResult<A, E>, E | StaleJobError | JobNotPausedError | ForeignJobError, JobPool> =>
  internal.resumeInContext(job)

/**
 * Cancels a paused job: interrupts it and waits until its finalizers have run
 * (each exactly once). The handle is stale afterwards.
 *
 * **Details**
 *
 * Fails with {@link JobNotPausedError} (running), {@link StaleJobError} (the
 * run ended) or {@link ForeignJobError} (another pool's job). A job already
 * being cancelled is not refused: the second cancel waits for the first
 * cancellation and succeeds once the job has unwound.
 *
 * @param job - The handle of the paused job.
 * @since 0.1.0
 * @category combinators
 */
export const cancel = (
  job: Job<unknown, unknown>
): Effect.Effect<void, StaleJobError | JobNotPausedError | ForeignJobError, JobPool> =>
  Effect.flatMap(JobPool, (pool) => pool.cancel(job))

/**
 * Pauses the current job (`ASYNC_pause_job`): the `start` or `resume` that
 * ran it answers `Paused`, and this effect completes when the job is
 * resumed. Outside a job, or while pausing is blocked, it succeeds at once and
 * does nothing.
 *
 * **Details**
 *
 * - A pending pause ends only when the job is resumed or cancelled. The job's
 *   own code cannot cut it short: `AsyncJob.pause.pipe(Effect.timeout("1 second"))`
 *   or a race against the pause still waits for the resume (the caller holds
 *   the `Paused` handle and is the one driving the job), and only then does
 *   the timeout or race settle.
 * - A cancel (or the pool or wait ctx closing) fails the pending pause with an
 *   interruption, even inside an uninterruptible region such as an
 *   `acquireRelease` acquire or a finalizer: the region ends, the job's
 *   finalizers run, and the cancel completes. A job being cancelled cannot
 *   pause again: its pause fails with an interruption at once.
 * - A fiber forked by the job pauses the whole job: the caller gets `Paused`
 *   and one resume wakes every fiber of the job waiting in `pause`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const pause: Effect.Effect<void> = internal.pause

/**
 * The job whose code is running (`ASYNC_get_current_job`); `None` outside a
 * job.
 *
 * The job is named by the context its fibers inherit: fibers the job forks
 * run in it, under whatever scheduler (`References.Scheduler`) they run on.
 *
 * @since 0.1.0
 * @category getters
 */
export const current: Effect.Effect<Option.Option<Job>> = internal.current

/**
 * The wait ctx a job was started with (`ASYNC_get_wait_ctx`); `None` if it had
 * none, or once it is being cancelled or has ended.
 *
 * @param job - The job's handle.
 * @since 0.2.0
 * @category getters
 */
export const waitCtx = (job: Job<unknown, unknown>): Effect.Effect<Option.Option<WaitCtx.WaitCtx>> =>
  Effect.sync(() => internal.waitCtxUnsafe(job))

/**
 * The synchronous form of {@link waitCtx}: reads the job's state as it is at
 * the moment of the call.
 *
 * @param job - The job's handle.
 * @since 0.2.0
 * @category unsafe
 */
export const waitCtxUnsafe: (job: Job<unknown, unknown>) => Option.Option<WaitCtx.WaitCtx> = internal.waitCtxUnsafe

/**
 * Where a job run is now: `running`, `paused`, `cancelling`, or how it ended.
 * It agrees with what {@link resume} and {@link cancel} answer: only a
 * `paused` job can be resumed or cancelled (a `cancelling` one can be
 * cancelled again: that cancel waits for the first).
 *
 * @param job - The job's handle.
 * @since 0.2.0
 * @category getters
 */
export const state = (job: Job<unknown, unknown>): Effect.Effect<JobState> => Effect.sync(() => internal.stateOf(job))

/**
 * The synchronous form of {@link state}: reads the job's state as it is at the
 * moment of the call.
 *
 * @param job - The job's handle.
 * @since 0.2.0
 * @category unsafe
 */
export const stateUnsafe: (job: Job<unknown, unknown>) => JobState = internal.stateOf

/**
 * Prevents the current job from pausing until a matching
 * {@link unblockPause} (`ASYNC_block_pause`). Calls nest. The counter belongs
 * to the job and ends with it, so a job that ends with pausing blocked
 * leaves nothing behind for the next job (OpenSSL's counter is the thread's,
 * and leaks). Outside a job: no effect.
 *
 * **Gotchas**
 *
 * Prefer {@link withPauseBlocked}, which cannot be left unbalanced.
 *
 * @since 0.1.0
 * @category combinators
 */
export const blockPause: Effect.Effect<void> = internal.blockPause

/**
 * Undoes one {@link blockPause} (`ASYNC_unblock_pause`); never goes below
 * zero. Outside a job: no effect.
 *
 * @since 0.1.0
 * @category combinators
 */
export const unblockPause: Effect.Effect<void> = internal.unblockPause

/**
 * Runs `self` with pausing blocked for the current job, and unblocks however
 * `self` ends.
 *
 * @param self - The effect to run with pausing blocked.
 * @typeParam A - What `self` succeeds with.
 * @typeParam E - What `self` fails with.
 * @typeParam R - The services `self` needs.
 * @since 0.1.0
 * @category combinators
 */
export const withPauseBlocked: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R> =
  internal.withPauseBlocked

/**
 * Whether jobs are supported (`ASYNC_is_capable`): always `true`, since a job
 * is a fiber and needs no platform support.
 *
 * @since 0.1.0
 * @category getters
 */
export const isCapable: Effect.Effect<boolean> = Effect.succeed(true)

/**
 * Options of {@link run}: those of {@link start}, and a timeout.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunOptions extends StartOptions {
  /**
   * Gives up after this long: the job is cancelled (interrupted, its
   * finalizers run) and `run` fails with {@link JobTimeoutError}.
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * The driver most code wants: starts `body` as a job and, while it is paused,
 * waits until its wait ctx is ready ({@link WaitCtx.awaitReady}) and resumes
 * it, until it finishes. Without a wait ctx a paused job is resumed at once
 * (polling).
 *
 * **Details**
 *
 * - Interrupting `run` cancels the job, whether it is running or paused.
 * - If someone else cancels the job, `run` is interrupted.
 * - With a tracer installed, the whole run is a span named `AsyncJob.run`;
 *   without one, no span is made.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as AsyncJob from "@async-job/core/AsyncJob"
 *
 * const body = Effect.andThen(AsyncJob.pause, Effect.succeed(42))
 *
 * // data-first, or piped
 * const first = AsyncJob.run(body, { timeout: "1 second" })
 * const piped = body.pipe(AsyncJob.run({ timeout: "1 second" }))
 * ```
 *
 * @param body - The job's code: an Effect that may {@link pause}.
 * @param options - The wait ctx to bind the job to, and a timeout, if any.
 * @typeParam A - What the body succeeds with.
 * @typeParam E - What the body fails with.
 * @typeParam R - The services the body needs.
 * @since 0.1.0
 * @category constructors
 */
export const run: {
  (options?: RunOptions): <A, E, R>(body: Effect.Effect<A, E, R>) => Effect.Effect<
    A,
    E | NoJobsError | JobTimeoutError,
    R | JobPool
  >
  <A, E, R>(body: Effect.Effect<A, E, R>, options?: RunOptions): Effect.Effect<
    A,
    E | NoJobsError | JobTimeoutError,
    R | JobPool
  >
} = dual((args) => Effect.isEffect(args[0]), runInternal.run)
