/**
 * The first job: start it on a pool, read its result and the pool's
 * counts.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect } from "effect"

const greet = (name: string) =>
  Effect.gen(function*() {
    yield* Console.log(`job: hello, ${name}`)
    return name.length
  })

const program = Effect.gen(function*() {
  const step = yield* AsyncJob.start(greet("async-job"))
  if (step._tag === "Finished") {
    yield* Console.log(`caller: finished with ${step.value}`)
  }

  const pool = yield* JobPool.JobPool
  yield* Console.log(`pool: ${JSON.stringify(yield* pool.stats)}`)
})

const PoolLive = JobPool.layer({ maxSize: 4, initSize: 2 })

Effect.runPromise(program.pipe(Effect.provide(PoolLive)))
