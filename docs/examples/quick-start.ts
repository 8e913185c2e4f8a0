import { AsyncJob, JobPool } from "@async-job/core"
import { Console, Effect } from "effect"

const job = Effect.gen(function*() {
  yield* Console.log("job: working, then pausing")
  yield* AsyncJob.pause
  yield* Console.log("job: resumed where it paused")
  return 42
})

const program = Effect.gen(function*() {
  const step = yield* AsyncJob.start(job)
  yield* Console.log(`caller: ${step._tag}`)
  if (step._tag === "Paused") {
    yield* Console.log(
      `caller: ${JSON.stringify(yield* AsyncJob.resume(step.job))}`
    )
  }
})

Effect.runPromise(
  program.pipe(Effect.provide(JobPool.layer({ maxSize: 8 })))
)
