/**
 * The typed errors of `@async-job/core`: one per way a caller reacts.
 *
 * | error | what the caller does |
 * | --- | --- |
 * | {@link NoJobsError} | retry later (the pool is full; nothing happened) |
 * | {@link InvalidPoolSizeError} | fix the configuration |
 * | {@link StaleJobError} | drop the handle (the job finished, was cancelled, or its pool closed) |
 * | {@link JobNotPausedError} | wait: the job is running or another fiber is resuming it |
 * | {@link ForeignJobError} | resume the job through the pool that started it |
 * | {@link JobTimeoutError} | the job was cancelled by `AsyncJob.run`'s timeout |
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type { PoolStats } from "./JobPool.js"

/**
 * The pool is full: `maxSize` jobs are outstanding. Nothing was started and
 * nothing changed; retry once a job of the same pool finishes
 * (`ASYNC_NO_JOBS`).
 *
 * @since 0.1.0
 * @category errors
 */
export class NoJobsError extends Data.TaggedError("NoJobsError")<{
  readonly poolId: number
  readonly stats: PoolStats
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `pool ${this.poolId} is full: ${
      this.stats.running + this.stats.paused
    } of ${this.stats.maxSize} jobs outstanding`
  }
}

/**
 * The pool limits are invalid (`ASYNC_init_thread`'s): sizes must be
 * integers from 0 to 2^31−1, and `initSize` may not exceed a given `maxSize`
 * (`maxSize` 0 means unbounded and then only `initSize` 0 is accepted, as in
 * OpenSSL).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidPoolSizeError extends Data.TaggedError("InvalidPoolSizeError")<{
  readonly maxSize: number | undefined
  readonly initSize: number | undefined
  readonly reason: string
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid pool size (maxSize ${this.maxSize}, initSize ${this.initSize}): ${this.reason}`
  }
}

/**
 * The handle belongs to a job run that has ended (it finished, failed, was
 * cancelled, or its pool was closed) or is being cancelled (`"cancelling"`).
 * Nothing was run and no count changed: a handle is never reused for another
 * run, so a stale one cannot touch a newer job.
 *
 * @since 0.1.0
 * @category errors
 */
export class StaleJobError extends Data.TaggedError("StaleJobError")<{
  readonly jobId: number
  readonly poolId: number
  readonly state: "cancelling" | "finished" | "failed" | "cancelled"
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId} of pool ${this.poolId} is stale (${this.state})`
  }
}

/**
 * The job is not paused: it is running, or another fiber is already resuming
 * it. The job was left undisturbed.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobNotPausedError extends Data.TaggedError("JobNotPausedError")<{
  readonly jobId: number
  readonly poolId: number
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId} of pool ${this.poolId} is not paused`
  }
}

/**
 * The job was started by another pool; only its own pool may resume or cancel
 * it. The job stays paused and resumable by its owner.
 *
 * @since 0.1.0
 * @category errors
 */
export class ForeignJobError extends Data.TaggedError("ForeignJobError")<{
  readonly jobId: number
  readonly ownerPoolId: number
  readonly poolId: number
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId} belongs to pool ${this.ownerPoolId}, not to pool ${this.poolId}`
  }
}

/**
 * `AsyncJob.run` gave up on the job after its timeout; the job was cancelled
 * (interrupted, its finalizers run) before this error was raised. `jobId` is
 * the job's id whether or not it ever paused (`run` learns it as the job
 * starts); it is `undefined` only for a timeout before any job started.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobTimeoutError extends Data.TaggedError("JobTimeoutError")<{
  readonly jobId: number | undefined
  readonly timeout: Duration.Duration
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId ?? "(not started)"} timed out and was cancelled`
  }
}

/**
 * A job or wait ctx was used after its pool or wait ctx closed. This is a bug
 * in the calling code, so it is raised as a defect, never as a typed failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClosedError extends Data.TaggedError("ClosedError")<{
  readonly what: "JobPool" | "WaitCtx"
  readonly id: number
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.what} ${this.id} is closed`
  }
}
