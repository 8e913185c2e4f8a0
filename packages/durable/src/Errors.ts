/**
 * The typed errors of `@async-job/durable`: one per way a caller reacts.
 *
 * The errors a durable job shares with an in-memory one are core's own
 * (`NoJobsError`, `StaleJobError`, `ForeignJobError` of `@async-job/core`),
 * re-exported here, so one `catchTag` serves both engines.
 *
 * | error | what the caller does |
 * | --- | --- |
 * | {@link NoJobsError} | retry later (the pool is full across all runners; nothing was started) |
 * | {@link StaleJobError} | drop the handle (the job was cancelled; its compensations ran) |
 * | {@link ForeignJobError} | use the pool that started the job (another pool on the same store owns this id) |
 * | {@link JobNotFoundError} | check the job id (no job was ever started with it, or retention removed it) |
 * | {@link JobKindError} | use the right definition (the id names a job of another kind) |
 * | {@link InvalidTokenError} | reject the request (the token is malformed, forged, or names no wait fd of the job) |
 * | {@link InvalidSignalError} | fix the value (it does not match the wait fd's Schema; the job still waits) |
 * | {@link StoreError} | try again if `unavailable` or `full` (once space is freed); else alert an operator (see its `reason`) |
 * | {@link JobDivergedError} | deploy code that replays the job (or runs its version), or cancel the job |
 *
 * The errors of this module cross process boundaries (the offload service
 * serves them), so they are `Schema.TaggedError`s.
 *
 * @since 0.1.0
 */
import * as CoreErrors from "@async-job/core/Errors"
import * as Schema from "effect/Schema"

/**
 * Core's `NoJobsError`: `stats.maxSize` jobs are outstanding (running or
 * paused) across every runner on the store. Nothing was started. `poolId` is
 * the pool's number in the store, `stats` its counts at that moment.
 *
 * @since 0.1.0
 * @category errors
 */
export const NoJobsError: typeof CoreErrors.NoJobsError = CoreErrors.NoJobsError

/**
 * The type of {@link NoJobsError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type NoJobsError = CoreErrors.NoJobsError

/**
 * Core's `StaleJobError`: the job ended by being cancelled (`state:
 * "cancelled"`); its handle will never answer a value. `jobId` is the job's
 * number in the store (`DurableJob.JobInfo.seq`).
 *
 * @since 0.1.0
 * @category errors
 */
export const StaleJobError: typeof CoreErrors.StaleJobError = CoreErrors.StaleJobError

/**
 * The type of {@link StaleJobError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type StaleJobError = CoreErrors.StaleJobError

/**
 * Core's `ForeignJobError`: the job id belongs to another pool on the same
 * store (`ownerPoolId`); only that pool may start, resume or cancel it.
 *
 * @since 0.1.0
 * @category errors
 */
export const ForeignJobError: typeof CoreErrors.ForeignJobError = CoreErrors.ForeignJobError

/**
 * The type of {@link ForeignJobError}.
 *
 * @since 0.1.0
 * @category errors
 */
export type ForeignJobError = CoreErrors.ForeignJobError

/**
 * No job of this kind was ever started with this id (or retention removed it).
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
 * The job id names a job of another kind than the definition it was used
 * with (each job records its kind when it starts). Nothing was changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobKindError extends Schema.TaggedError<JobKindError>("@async-job/durable/JobKindError")(
  "JobKindError",
  { jobId: Schema.String, expected: Schema.String, actual: Schema.String }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId} is a ${this.actual} job, not a ${this.expected} job`
  }
}

/**
 * The resume token is malformed, was not issued by this store (its signature
 * does not match), or names a wait fd the job does not declare. Nothing was
 * signalled.
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

/**
 * The store cannot be used. `operation` says what was being done, `reason`
 * why:
 *
 * | reason | the store |
 * | --- | --- |
 * | `missing` | its directory is missing, or its SQLite file is gone from where a store was (see `layerSqlite`'s `create`) |
 * | `corrupt` | its file is not a database |
 * | `read-only` | its file or its directory cannot be written |
 * | `replaced` | its file was deleted or replaced while in use |
 * | `full` | its disk is full (`SQLITE_FULL`); free space, and the operation can be tried again |
 * | `in-use` | another process has its SQLite file open (one process per file) |
 * | `key` | the runner's token keys share none with the other runners of the store (`ASYNC_JOB_DURABLE_SECRET`) |
 * | `unavailable` | it does not answer now (a lost connection, a server restarting); the operation can be tried again |
 *
 * @since 0.1.0
 * @category errors
 */
export class StoreError extends Schema.TaggedError<StoreError>("@async-job/durable/StoreError")("StoreError", {
  operation: Schema.String,
  reason: Schema.Literals(["missing", "corrupt", "read-only", "replaced", "full", "in-use", "key", "unavailable"]),
  detail: Schema.String
}) {
  /** @since 0.1.0 */
  override get message(): string {
    return `durable store ${this.reason} (${this.operation}): ${this.detail}`
  }
}

/**
 * One step of a job's journal, as divergence reports it: an `activity` (by its
 * name), or a `wait` (a pause on a wait fd, by its name and key, or any other
 * `DurableDeferred`, such as a `DurableClock` sleep).
 *
 * @since 0.1.0
 * @category models
 */
export const JournalStep: Schema.Struct<{
  readonly kind: Schema.Literals<readonly ["activity", "wait"]>
  readonly name: Schema.String
}> = Schema.Struct({ kind: Schema.Literals(["activity", "wait"]), name: Schema.String })

/**
 * The type of {@link JournalStep}.
 *
 * @since 0.1.0
 * @category models
 */
export type JournalStep = typeof JournalStep.Type

/**
 * The job's code does not replay its journal: nothing past `step` runs, and
 * the job holds its slot until code that replays it is deployed or it is
 * cancelled.
 *
 * **Details**
 *
 * - `step: "version"`: the job was started under a version of its code that
 *   this code does not run (below the definition's `minVersion`, or above its
 *   `version`). Nothing ran.
 * - Otherwise the code changed without a version guard, and a replay met a
 *   step other than the one journaled: `index` is the step's position in the
 *   journal (counted from 0, in the body's own fiber), `recorded` what the
 *   journal holds there, `requested` what the code asked for (absent when the
 *   code ended before it), and `step` names the journal's step (`step 1 (wait
 *   "go")`). A step whose journaled result or signalled value no longer
 *   decodes with the code's Schema diverges too (`recorded` and `requested`
 *   are then the same step). The job's state is `diverged`.
 *
 * @since 0.1.0
 * @category errors
 */
export class JobDivergedError extends Schema.TaggedError<JobDivergedError>("@async-job/durable/JobDivergedError")(
  "JobDivergedError",
  {
    jobId: Schema.String,
    step: Schema.String,
    reason: Schema.String,
    index: Schema.optional(Schema.Number),
    recorded: Schema.optional(JournalStep),
    requested: Schema.optional(JournalStep)
  }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `job ${this.jobId} diverges from its journal at ${this.step}: ${this.reason}`
  }
}
