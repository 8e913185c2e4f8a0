/**
 * AsyncJob.run drives a job to its end; with `timeout` it gives up,
 * cancels the job (its finalizers run) and fails with
 * JobTimeoutError. The clock is Effect's TestClock, so time moves
 * only when the program says so.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { Console, Effect, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"

/**
 * A job waiting for an operation that completes when `fd` is
 * signalled.
 */
const operation = (fd: WaitFd.InProcessWaitFd) =>
  Effect.gen(function*() {
    const ctx = Option.flatMap(
      yield* AsyncJob.current,
      AsyncJob.waitCtxUnsafe
    )
    if (Option.isSome(ctx)) {
      yield* WaitCtx.setWaitFd(ctx.value, "engine", fd)
    }
    while (!(yield* WaitFd.clear(fd))) yield* AsyncJob.pause
    return "result"
  }).pipe(
    Effect.onInterrupt(() =>
      Console.log("job: cancelled, cleaning up")
    )
  )

const program = Effect.gen(function*() {
  // completes: the fd is signalled after one second
  const fast = yield* WaitFd.make
  const ctx1 = yield* WaitCtx.make
  const ok = yield* Effect.forkChild(
    AsyncJob.run(operation(fast), {
      waitCtx: ctx1,
      timeout: "5 seconds"
    })
  )
  yield* TestClock.adjust("1 second")
  yield* WaitFd.signal(fast)
  yield* Console.log(`first run: ${yield* Fiber.join(ok)}`)

  // times out: nothing ever signals the fd
  const ctx2 = yield* WaitCtx.make
  const late = yield* Effect.forkChild(
    Effect.result(
      AsyncJob.run(operation(yield* WaitFd.make), {
        waitCtx: ctx2,
        timeout: "5 seconds"
      })
    )
  )
  yield* TestClock.adjust("5 seconds")
  const outcome = yield* Fiber.join(late)
  if (outcome._tag === "Failure") {
    const { _tag, message } = outcome.failure
    yield* Console.log(`second run: ${_tag}: ${message}`)
  }

  const pool = yield* JobPool.JobPool
  yield* Console.log(`pool: ${JSON.stringify(yield* pool.stats)}`)
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(JobPool.layer({ maxSize: 4 })),
    Effect.provide(TestClock.layer())
  )
)
