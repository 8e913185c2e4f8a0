/**
 * Pause and resume: a job that pauses twice, its handle's state,
 * the handle seen inside the job, a blocked pause, a pause outside
 * any job, and a stale handle.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect, Option } from "effect"

const counter = { value: 0 }
let seenInside: Option.Option<AsyncJob.Job> = Option.none()

const job = Effect.gen(function*() {
  seenInside = yield* AsyncJob.current
  counter.value++
  yield* AsyncJob.pause
  counter.value++
  // while blocked, pause is a no-op: the job goes on without
  // returning to its caller
  yield* AsyncJob.withPauseBlocked(AsyncJob.pause)
  counter.value++
  yield* AsyncJob.pause
  return counter.value
})

const program = Effect.gen(function*() {
  yield* AsyncJob.pause // outside any job: does nothing
  let step = yield* AsyncJob.start(job)
  let resumes = 0
  while (step._tag === "Paused") {
    const handle = step.job
    const same = Option.getOrUndefined(seenInside) === handle
    const state = yield* AsyncJob.state(handle)
    yield* Console.log(
      `paused: counter ${counter.value}, state ${state}, ` +
        `same handle: ${same}`
    )
    step = yield* AsyncJob.resume(handle)
    resumes++
    if (step._tag === "Finished") {
      const state = yield* AsyncJob.state(handle)
      yield* Console.log(
        `finished with ${step.value} after ${resumes} resumes; ` +
          `state ${state}`
      )
      const stale = yield* Effect.flip(AsyncJob.resume(handle))
      yield* Console.log(
        `resuming it again: ${stale._tag} (${stale.message})`
      )
    }
  }
})

Effect.runPromise(
  program.pipe(Effect.provide(JobPool.layer({ maxSize: 1 })))
)
