/**
 * The wait ctx's change bookkeeping, step by step (the spec's trace
 * S6): what the caller sees after each PAUSE and at FINISH, and
 * when the fd cleanups run.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { Console, Effect, Exit, Scope } from "effect"

const key = "engine"

const job = (
  ctx: WaitCtx.WaitCtx,
  a: WaitFd.WaitFd,
  b: WaitFd.WaitFd
) =>
  Effect.gen(function*() {
    yield* AsyncJob.pause
    yield* WaitCtx.setWaitFd(ctx, key, a, {
      cleanup: () => Console.log("cleanup of fd a")
    })
    yield* AsyncJob.pause
    // never runs the cleanup: the engine closes its fd itself
    yield* WaitCtx.clearFd(ctx, key)
    yield* AsyncJob.pause
    yield* WaitCtx.setWaitFd(ctx, key, b, {
      cleanup: () => Console.log("cleanup of fd b")
    })
    // added and cleared in one segment: nobody ever hears of it
    yield* WaitCtx.clearFd(ctx, key)
    yield* WaitCtx.setWaitFd(ctx, key, b, {
      cleanup: () => Console.log("cleanup of fd b")
    })
    return "done"
  })

const program = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const ctx = yield* Scope.provide(WaitCtx.make, scope)
  const a = yield* WaitFd.make
  const b = yield* WaitFd.make
  const name = (fd: WaitFd.WaitFd) => (fd === a ? "a" : "b")
  const show = (label: string) =>
    Effect.gen(function*() {
      const all = (yield* WaitCtx.getAllFds(ctx)).map(name)
      const { added, deleted } = yield* WaitCtx.getChangedFds(ctx)
      yield* Console.log(
        `${label} all [${all}] added [${added.map(name)}] ` +
          `deleted [${deleted.map(name)}]`
      )
    })

  let step = yield* AsyncJob.start(job(ctx, a, b), { waitCtx: ctx })
  while (step._tag === "Paused") {
    yield* show("PAUSE: ")
    step = yield* AsyncJob.resume(step.job)
  }
  yield* show("FINISH:")
  yield* Console.log("closing the wait ctx")
  yield* Scope.close(scope, Exit.void)
})

Effect.runPromise(program.pipe(Effect.provide(JobPool.layer())))
