/**
 * A pool of two: a third start is refused with NoJobsError (nothing
 * queued, nothing changed); it succeeds again once a job has
 * finished, and reuses that job's record.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect, Fiber, Schedule } from "effect"

const onlyPause = Effect.as(AsyncJob.pause, "done")

const program = Effect.gen(function*() {
  const pool = yield* JobPool.JobPool
  const first = yield* AsyncJob.start(onlyPause)
  yield* AsyncJob.start(onlyPause)

  const refused = yield* Effect.flip(AsyncJob.start(onlyPause))
  yield* Console.log(`${refused._tag}: ${refused.message}`)

  // the usual answer: retry later; here the first job finishes
  // meanwhile
  const retried = yield* Effect.forkChild(
    AsyncJob.start(onlyPause).pipe(
      Effect.retry({
        while: (error) => error._tag === "NoJobsError",
        schedule: Schedule.spaced("5 millis")
      })
    )
  )
  if (first._tag === "Paused") yield* AsyncJob.resume(first.job)
  yield* Fiber.await(retried)
  yield* Console.log(
    `after the retry: ${JSON.stringify(yield* pool.stats)}`
  )
})

Effect.runPromise(
  program.pipe(Effect.provide(JobPool.layer({ maxSize: 2 })))
)
