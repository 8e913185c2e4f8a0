/**
 * A job that never pauses still gets cancelled by AsyncJob.run's
 * timeout, and the JobTimeoutError names it: the job's id is known
 * from the moment it starts, even with a timeout of zero.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

/** Busy forever without a pause: runs until interrupted. */
const busy = Effect.never.pipe(
  Effect.onInterrupt(() =>
    Console.log("job: interrupted while running")
  )
)

const program = Effect.gen(function*() {
  const fiber = yield* Effect.forkChild(
    Effect.flip(AsyncJob.run(busy, { timeout: "2 seconds" }))
  )
  yield* TestClock.adjust("2 seconds")
  const error = yield* Fiber.join(fiber)
  if (error._tag === "JobTimeoutError") {
    yield* Console.log(
      `${error._tag}: jobId ${error.jobId}, ${error.message}`
    )
  }

  const zero = yield* Effect.flip(
    AsyncJob.run(busy, { timeout: 0 })
  )
  if (zero._tag === "JobTimeoutError") {
    yield* Console.log(`timeout 0: jobId ${zero.jobId}`)
  }
})

Effect.runPromise(
  program.pipe(
    Effect.provide(JobPool.layer({ maxSize: 1 })),
    Effect.provide(TestClock.layer())
  )
)
