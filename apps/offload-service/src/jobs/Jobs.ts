/**
 * The service's jobs, as the HTTP layer sees them: one interface, one tag,
 * whichever layer provides them: in memory (`memory.ts`: every accepted
 * `POST /jobs` is one async job of `@async-job/core`, run the way OpenSSL
 * runs a job on an Intel QAT card) or durable (`durable.ts`, over
 * `@async-job/durable`); {@link layerFromConfig} picks one by `DURABLE`. One
 * contract suite, `test/fixtures/jobsContract.ts`, runs against both.
 */
import type { NoJobsError } from "@async-job/core/Errors"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ServiceConfig from "../config.js"
import type { CryptoEngine } from "../engine/CryptoEngine.js"
import type * as Operation from "../engine/Operation.js"

export type JobState = "running" | "paused" | "finished" | "failed" | "cancelled"

/** Why a job failed, as the HTTP API reports it. */
export interface JobError {
  readonly tag: string
  readonly message: string
}

/** A job as `GET /jobs/:id` shows it. */
export interface JobView {
  readonly id: string
  readonly op: Operation.Op
  readonly state: JobState
  readonly result?: Operation.Result
  readonly error?: JobError
}

/**
 * What `GET /stats` answers: the pool's counts now, and the jobs that ended
 * (by outcome) and were refused (`noJobs`) since the service started.
 */
export interface Stats {
  readonly maxSize: number
  readonly created: number
  readonly idle: number
  readonly running: number
  readonly paused: number
  readonly finished: number
  readonly failed: number
  readonly cancelled: number
  readonly noJobs: number
}

/** Counters tests and operators use to see that cleanups ran and what is held. */
export interface Housekeeping {
  /** Wait fd cleanups run by closing wait ctxs (one per job that reached the engine). */
  readonly fdCleanups: number
  /** Ended jobs kept right now. */
  readonly retained: number
  /** Jobs running or paused right now. */
  readonly outstanding: number
  /** What the inputs of the outstanding jobs hold (`Operation.requestBytes`), against `MAX_QUEUED_BYTES`. */
  readonly queuedBytes: number
}

/**
 * The service is shutting down and accepts no more jobs.
 */
export class ShuttingDownError extends Data.TaggedError("ShuttingDownError")<{}> {
  override get message(): string {
    return "the service is shutting down"
  }
}

/**
 * No job has this id: it never existed, or it ended and was forgotten.
 */
export class JobNotFoundError extends Data.TaggedError("JobNotFoundError")<{ readonly id: string }> {
  override get message(): string {
    return `no job ${this.id} (unknown, or ended and forgotten)`
  }
}

/**
 * The inputs of the jobs accepted and not yet ended hold `MAX_QUEUED_BYTES`:
 * this one would pass it. Nothing was started: retry later.
 */
export class OverloadedError extends Data.TaggedError("OverloadedError")<{
  readonly queuedBytes: number
  readonly maxQueuedBytes: number
}> {
  override get message(): string {
    return `the jobs in progress hold ${this.queuedBytes} bytes of input (at most ${this.maxQueuedBytes}): retry after the Retry-After delay`
  }
}

/**
 * The job ended (finished or failed) before it could be cancelled.
 */
export class JobEndedError extends Data.TaggedError("JobEndedError")<{
  readonly id: string
  readonly state: "finished" | "failed"
}> {
  override get message(): string {
    return `job ${this.id} has already ${this.state === "finished" ? "finished" : "failed"}`
  }
}

/**
 * A durable job whose journal this service's code no longer replays: it was
 * started by another version of the service (or its code changed without a
 * version guard). It is suspended, holding its slot, until a version that
 * replays it runs, or it is cancelled.
 */
export class JobDivergedError extends Data.TaggedError("JobDivergedError")<{
  readonly id: string
  readonly reason: string
}> {
  override get message(): string {
    // what to do first: error bodies are cut to a bounded length, and the reason is the longest part
    return `job ${this.id} cannot be run by this version of the service; DELETE with ?discard=true cancels it ` +
      `(${this.reason})`
  }
}

/**
 * The service's jobs, whichever layer provides them: in memory
 * ({@link layer}, {@link layerConfig}) or durable (`DurableJobs`).
 */
export interface Jobs {
  /**
   * Starts a job and answers once it has paused on the engine (its state is
   * then `paused`). Fails at once with `NoJobsError` when the pool is full.
   */
  readonly submit: (request: Operation.Request) => Effect.Effect<JobView, StartError>
  /** Starts a job and answers once it has ended. Interrupted while waiting, it cancels the job. */
  readonly run: (request: Operation.Request) => Effect.Effect<JobView, StartError>
  /** The job's view; a durable job this code cannot replay fails with `JobDivergedError`. */
  readonly get: (id: string) => Effect.Effect<JobView, JobNotFoundError | JobDivergedError>
  /**
   * Cancels a running or paused job and answers once it has unwound (engine
   * request dropped, wait fd cleaned up). A job already cancelled answers its
   * view again. A diverged durable job fails with `JobDivergedError` unless
   * `discard` is set: then it is cancelled, which gives its slot back (no
   * version of the service that runs it need be deployed).
   */
  readonly cancel: (
    id: string,
    options?: { readonly discard?: boolean | undefined }
  ) => Effect.Effect<JobView, JobNotFoundError | JobEndedError | JobDivergedError>
  readonly stats: Effect.Effect<Stats>
  readonly housekeeping: Effect.Effect<Housekeeping>
  /** Whether new jobs are still accepted. */
  readonly isAccepting: Effect.Effect<boolean>
  /**
   * Refuses new jobs from now on, gives the outstanding ones up to the
   * configured grace period to end, then cancels the rest, awaiting them.
   * Answers how many it cancelled. Idempotent.
   */
  readonly shutdown: Effect.Effect<number>
}

export const Jobs: Context.Service<Jobs, Jobs> = Context.Service<Jobs>("@async-job/offload-service/Jobs")

/**
 * The jobs' store could not be opened (durable mode: the database), with
 * what the driver said.
 */
export class StartupError
  extends Data.TaggedError("StartupError")<{ readonly message: string; readonly cause: unknown }>
{}

/**
 * What ends a shutdown's grace early: once it completes, the jobs still
 * outstanding are cancelled at once instead of at the end of
 * `SHUTDOWN_GRACE`. Nothing, by default; `pnpm start` makes it a second
 * SIGINT or SIGTERM (`shutdown.ts`).
 */
export const GraceCutShort: Context.Reference<Effect.Effect<void>> = Context.Reference<Effect.Effect<void>>(
  "@async-job/offload-service/GraceCutShort",
  { defaultValue: () => Effect.never }
)

/** Why a job was not started. */
export type StartError = NoJobsError | ShuttingDownError | OverloadedError

/**
 * The service's jobs as `DURABLE` selects them: unset, the in-memory jobs
 * (`memory.ts`); `sqlite:<file>` or `postgres://…` / `postgresql://…`, the
 * durable ones (`durable.ts`), whose module, and with it the durable store's
 * driver, is loaded only then. Every choice is the same `Jobs` service, so the
 * HTTP layer has one code path.
 */
export const layerFromConfig: Layer.Layer<Jobs, StartupError, CryptoEngine | ServiceConfig.ServiceConfig> = Layer
  .unwrap(
    Effect.gen(function*() {
      const config = yield* ServiceConfig.ServiceConfig
      if (config.durable === undefined) return (yield* Effect.promise(() => import("./memory.js"))).layerConfig
      const durable = config.durable
      const layer = (yield* Effect.promise(() => import("./durable.js"))).layerFor(durable)
      return Layer.catchCause(layer, (cause) => {
        const failure = Cause.squash(cause)
        const reason = failure instanceof Error ? failure.message : String(failure)
        return Layer.effect(
          Jobs,
          Effect.fail(new StartupError({ message: `cannot open ${durable}: ${reason}`, cause }))
        )
      })
    })
  )
