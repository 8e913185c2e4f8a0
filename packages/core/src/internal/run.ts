import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as AsyncJob from "../AsyncJob.js"
import { JobTimeoutError, type NoJobsError } from "../Errors.js"
import { JobPool } from "../JobPool.js"
import { current, isHandle, onEndWhilePausedUnsafe, stateOf } from "./jobPool.js"
import * as span from "./span.js"
import * as waitCtx from "./waitCtx.js"

/** @internal */
export const run = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  options?: AsyncJob.RunOptions
): Effect.Effect<A, E | NoJobsError | JobTimeoutError, R | JobPool> =>
  Effect.withFiber((fiber) => {
    const driven = drive(body, options)
    return span.isRecording(fiber) ? Effect.withSpan(driven, "AsyncJob.run") : driven
  })

const drive = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  options: AsyncJob.RunOptions | undefined
): Effect.Effect<A, E | NoJobsError | JobTimeoutError, R | JobPool> =>
  Effect.flatMap(JobPool, (pool) => {
    const ctx = options?.waitCtx instanceof waitCtx.WaitCtxImpl ? options.waitCtx : undefined
    // the job we hold while it is paused; the loop is uninterruptible but for
    // its waits, so this is always up to date when an interruption lands
    let paused: AsyncJob.Job<A, E> | undefined
    // named from inside the job as it starts, so a timeout can report it even before the first pause
    let jobId: number | undefined
    const named = Effect.andThen(
      Effect.map(current, (job) => {
        if (job._tag === "Some") jobId = job.value.id
      }),
      body
    )
    const driven = Effect.uninterruptibleMask((restore) => {
      // wait until the ctx is ready, or until the job is cancelled behind our back
      const ready = (job: AsyncJob.Job<A, E>) =>
        ctx === undefined
          ? Effect.yieldNow
          : waitCtx.awaitReady(ctx, (wake) => onEndWhilePausedUnsafe(job, wake))
      const step = (next: AsyncJob.JobResult<A, E>): Effect.Effect<A, E> => {
        if (next._tag === "Finished") return Effect.succeed(next.value)
        paused = next.job
        return Effect.andThen(
          restore(ready(next.job)),
          Effect.suspend(() => {
            paused = undefined
            // the job was cancelled behind our back: end like a join of an interrupted fiber
            if (isHandle(next.job) && stateOf(next.job) !== "paused") return Effect.interrupt
            // checked in this same step, so resume cannot refuse the job: it fails only with the job's own errors
            const resumed = pool.resume(next.job) as Effect.Effect<AsyncJob.JobResult<A, E>, E>
            return Effect.flatMap(restore(resumed), step)
          })
        )
      }
      return Effect.flatMap(restore(pool.start(named, options)), step)
    }).pipe(
      Effect.onInterrupt(() => {
        const job = paused
        paused = undefined
        return job === undefined ? Effect.void : Effect.ignore(pool.cancel(job))
      })
    )
    const timeout = options?.timeout
    if (timeout === undefined) {
      return driven
    }
    return Effect.timeoutOrElse(driven, {
      duration: timeout,
      orElse: () => Effect.fail(new JobTimeoutError({ jobId, timeout: Duration.fromInputUnsafe(timeout) }))
    })
  })
