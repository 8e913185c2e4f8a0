import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as AsyncJob from "../AsyncJob.js"
import { JobTimeoutError, type NoJobsError } from "../Errors.js"
import { JobPool } from "../JobPool.js"
import type * as WaitCtx from "../WaitCtx.js"
import { type PoolImpl, unsafeOnEndWhilePaused } from "./jobPool.js"
import * as waitCtx from "./waitCtx.js"

/** @internal */
export const run = <A, E, R>(
  body: Effect.Effect<A, E, R>,
  options?: AsyncJob.RunOptions
): Effect.Effect<A, E | NoJobsError | JobTimeoutError, R | JobPool> =>
  Effect.flatMap(JobPool, (pool) => {
    const ctx = options?.waitCtx
    let paused: AsyncJob.Job<A, E> | undefined
    // wait until the ctx is ready, or until the job is cancelled behind our back
    const ready = (job: AsyncJob.Job<A, E>) =>
      ctx === undefined
        ? Effect.yieldNow()
        : waitCtx.awaitReady(ctx as waitCtx.WaitCtxImpl, (wake) => unsafeOnEndWhilePaused(job, wake))
    const drive = (step: AsyncJob.JobResult<A, E>): Effect.Effect<A, E> => {
      if (step._tag === "Finished") {
        paused = undefined
        return Effect.succeed(step.value)
      }
      paused = step.job
      return Effect.zipRight(
        ready(step.job),
        Effect.suspend(() => {
          paused = undefined
          const refused = (pool as PoolImpl).check(step.job as any)
          if (refused !== undefined) {
            // the job was cancelled behind our back: end like a join of an interrupted fiber
            return Effect.catchAll(refused, (error) =>
              error._tag === "StaleJobError" ? Effect.interrupt : Effect.die(error))
          }
          // the check above passed in this same step, so resume cannot refuse the job
          return Effect.flatMap(pool.resume(step.job) as Effect.Effect<AsyncJob.JobResult<A, E>, E>, drive)
        })
      )
    }
    const driven = Effect.flatMap(pool.start(body, options), drive).pipe(
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
    return Effect.timeoutFail(driven, {
      duration: timeout,
      onTimeout: () =>
        new JobTimeoutError({ jobId: undefined, timeout: Duration.decode(timeout) })
    })
  })

/** @internal */
export type { WaitCtx }
