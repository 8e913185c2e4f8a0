/**
 * The typed errors of `@async-job/durable`: one per way a caller reacts.
 *
 * | error | what the caller does |
 * | --- | --- |
 * | {@link NoJobsError} | retry later (the pool is full across all runners; nothing was started) |
 * | {@link JobNotFoundError} | check the job id (no job was ever started with it) |
 * | {@link JobCancelledError} | drop the job (it was cancelled; its compensations ran) |
 * | {@link InvalidTokenError} | reject the request (the token names no known job or wait fd) |
 * | {@link InvalidSignalError} | fix the value (it does not match the wait fd's Schema; the job still waits) |
 *
 * These errors cross process boundaries (the offload service serves them), so
 * they are `Schema.TaggedError`s.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The pool is full: `maxSize` durable jobs are outstanding (running or paused)
 * across every runner on the same store. Nothing was started; retry once a
 * job of the pool ends (`ASYNC_NO_JOBS`). Same tag as core's `NoJobsError`, so
 * one `catchTag("NoJobsError", ...)` serves both engines.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoJobsError extends Schema.TaggedError<NoJobsError>("@async-job/durable/NoJobsError")("NoJobsError", {
  pool: Schema.String,
  maxSize: Schema.Number,
  outstanding: Schema.Number
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `durable pool ${this.pool} is full: ${this.outstanding} of ${this.maxSize} jobs outstanding`
  }
}

/**
 * No job of this kind was ever started with this id.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobNotFoundError extends Schema.TaggedError<JobNotFoundError>("@async-job/durable/JobNotFoundError")(
  "JobNotFoundError",
  { job: Schema.String, jobId: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `no ${this.job} job with id ${this.jobId}`
  }
}

/**
 * The job was cancelled: it will never answer a value. Its workflow scope is
 * closed and its compensations have run.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobCancelledError extends Schema.TaggedError<JobCancelledError>("@async-job/durable/JobCancelledError")(
  "JobCancelledError",
  { job: Schema.String, jobId: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.job} job ${this.jobId} was cancelled`
  }
}

/**
 * The resume token is malformed, or names a job kind or wait fd that this
 * process does not know. Nothing was signalled.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidTokenError extends Schema.TaggedError<InvalidTokenError>("@async-job/durable/InvalidTokenError")(
  "InvalidTokenError",
  { token: Schema.String, reason: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid resume token: ${this.reason}`
  }
}

/**
 * The value does not match the Schema of the wait fd that the token names.
 * Nothing was signalled: the job still waits, and a correct value may follow.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidSignalError extends Schema.TaggedError<InvalidSignalError>(
  "@async-job/durable/InvalidSignalError"
)("InvalidSignalError", { job: Schema.String, waitFd: Schema.String, reason: Schema.String }) {
  /** @since 0.1.0 */
  override get message(): string {
    return `invalid value for wait fd ${this.waitFd} of ${this.job}: ${this.reason}`
  }
}
