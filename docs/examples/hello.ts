/**
 * Placeholder example (only `effect`): a forked fiber that waits for a signal, like a paused job waits for its fd.
 * Run it with `pnpm exec tsx docs/examples/hello.ts`.
 */
import { Console, Deferred, Effect, Fiber } from "effect"

const program = Effect.gen(function*() {
  const ready = yield* Deferred.make<string>()
  const job = yield* Effect.fork(
    Effect.gen(function*() {
      yield* Console.log("job: waiting")
      const message = yield* Deferred.await(ready)
      yield* Console.log(`job: woken with ${message}`)
      return message.length
    })
  )
  yield* Effect.yieldNow()
  yield* Console.log("caller: waking the job")
  yield* Deferred.succeed(ready, "hello")
  const result = yield* Fiber.join(job)
  yield* Console.log(`caller: job returned ${result}`)
})

Effect.runPromise(program)
