/**
 * Cancellation and cleanup: a paused job cancelled directly, one
 * cancelled by closing its wait ctx, and one cancelled by closing
 * its pool. Every finalizer runs exactly once, before the
 * cancelling effect completes.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { Console, Effect, Exit, Scope } from "effect"

/** A job holding a resource while it is paused. */
const job = (name: string) =>
  Effect.acquireUseRelease(
    Console.log(`${name}: acquired its resource`),
    () => Effect.andThen(AsyncJob.pause, Effect.never),
    () => Console.log(`${name}: released its resource`)
  )

const cancelDirectly = Effect.gen(function*() {
  const step = yield* AsyncJob.start(job("job 1"))
  if (step._tag !== "Paused") return
  yield* AsyncJob.cancel(step.job)
  yield* Console.log(`job 1 is ${yield* AsyncJob.state(step.job)}`)
  const stale = yield* Effect.flip(AsyncJob.resume(step.job))
  yield* Console.log(`resuming it: ${stale._tag}`)
})

const closeItsWaitCtx = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const ctx = yield* Scope.provide(WaitCtx.make, scope)
  yield* WaitCtx.setWaitFd(ctx, "engine", yield* WaitFd.make, {
    cleanup: () => Console.log("wait ctx: fd cleanup")
  })
  yield* AsyncJob.start(job("job 2"), { waitCtx: ctx })
  // cancels job 2 first, then runs the cleanups
  yield* Scope.close(scope, Exit.void)
  yield* Console.log("wait ctx closed")
})

const closeThePool = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const pool = yield* Scope.provide(JobPool.make(), scope)
  yield* pool.start(job("job 3"))
  // ASYNC_cleanup_thread: cancels every outstanding job and waits
  yield* Scope.close(scope, Exit.void)
  yield* Console.log(`pool closed`)
})

const program = Effect.gen(function*() {
  yield* cancelDirectly
  yield* closeItsWaitCtx
  yield* closeThePool
})

Effect.runPromise(program.pipe(Effect.provide(JobPool.layer())))
