/**
 * Pool limits: validated as OpenSSL's ASYNC_init_thread validates
 * them, and replaceable while jobs are outstanding (a second
 * ASYNC_init_thread).
 */
import * as JobPool from "@async-job/core/JobPool"
import { Console, Effect } from "effect"

const program = Effect.gen(function*() {
  const refused = yield* Effect.flip(
    JobPool.make({ maxSize: 0, initSize: 5 })
  )
  yield* Console.log(`${refused._tag}: ${refused.reason}`)

  const pool = yield* JobPool.make({ maxSize: 4, initSize: 2 })
  yield* Console.log(
    `made:         ${JSON.stringify(yield* pool.stats)}`
  )
  yield* pool.reconfigure({ maxSize: 16, initSize: 8 })
  yield* Console.log(
    `reconfigured: ${JSON.stringify(yield* pool.stats)}`
  )
})

Effect.runPromise(Effect.scoped(program))
