/**
 * A job being cancelled: while its finalizer runs, its state is
 * "cancelling", its wait ctx reads None, resume is refused with
 * StaleJobError, and it still holds its slot. A second cancel waits
 * for the same cancellation and succeeds; once the job has unwound,
 * a third cancel fails with StaleJobError ("cancelled").
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import { Console, Deferred, Effect, Fiber } from "effect"

const program = Effect.gen(function*() {
  const pool = yield* JobPool.JobPool
  const unwinding = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()

  // its finalizer takes as long as `release` is not completed
  const job = AsyncJob.pause.pipe(
    Effect.andThen(Effect.never),
    Effect.ensuring(
      Deferred.succeed(unwinding, undefined).pipe(
        Effect.andThen(Deferred.await(release)),
        Effect.andThen(Console.log("job: finalizer done"))
      )
    )
  )
  const ctx = yield* WaitCtx.make
  const step = yield* AsyncJob.start(job, { waitCtx: ctx })
  if (step._tag !== "Paused") return
  const paused = step.job

  const first = yield* Effect.forkChild(AsyncJob.cancel(paused))
  yield* Deferred.await(unwinding)
  yield* Console.log(`state: ${yield* AsyncJob.state(paused)}`)
  const ctxNow = yield* AsyncJob.waitCtx(paused)
  yield* Console.log(`wait ctx: ${ctxNow._tag}`)
  const refused = yield* Effect.flip(AsyncJob.resume(paused))
  yield* Console.log(`resume: ${refused._tag} (${refused.message})`)
  const stats = yield* pool.stats
  yield* Console.log(`running ${stats.running}, idle ${stats.idle}`)

  let secondDone = false
  const second = yield* Effect.forkChild(
    Effect.andThen(
      AsyncJob.cancel(paused),
      Effect.sync(() => (secondDone = true))
    )
  )
  yield* Effect.yieldNow
  yield* Console.log(
    `second cancel done before the release: ${secondDone}`
  )
  yield* Deferred.succeed(release, undefined)
  yield* Fiber.join(first)
  yield* Fiber.join(second)
  yield* Console.log(
    `both cancels succeeded, second done: ${secondDone}`
  )

  yield* Console.log(`state: ${yield* AsyncJob.state(paused)}`)
  const stale = yield* Effect.flip(AsyncJob.cancel(paused))
  yield* Console.log(
    `third cancel: ${stale._tag} (${stale.message})`
  )
})

Effect.runPromise(
  program.pipe(
    Effect.scoped,
    Effect.provide(JobPool.layer({ maxSize: 1 }))
  )
)
