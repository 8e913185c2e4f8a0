/**
 * The first pause and resume: the job publishes a wait fd on its
 * wait ctx and pauses; the caller waits until the fd is readable
 * and resumes the job.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { Console, Effect, Option } from "effect"

const key = Symbol("my-engine")

// `fd` stands for an engine's completion signal: it becomes
// readable when the operation is done
const job = (fd: WaitFd.InProcessWaitFd) =>
  Effect.gen(function*() {
    const self = yield* AsyncJob.current
    const ctx = Option.flatMap(self, AsyncJob.waitCtxUnsafe)
    if (Option.isSome(ctx)) {
      yield* WaitCtx.setWaitFd(ctx.value, key, fd)
    }
    yield* Console.log("job: submitted the operation, pausing")
    yield* AsyncJob.pause
    // consume the wake-up, like reading the byte from a pipe
    yield* WaitFd.clear(fd)
    yield* Console.log("job: resumed, the operation is done")
    return "result"
  })

const program = Effect.gen(function*() {
  const ctx = yield* WaitCtx.make
  const fd = yield* WaitFd.make
  const step = yield* AsyncJob.start(job(fd), { waitCtx: ctx })
  if (step._tag !== "Paused") return
  yield* Console.log(
    `caller: paused, waiting on ${
      (yield* WaitCtx.getAllFds(ctx)).length
    } fd`
  )

  // the operation completes: the fd becomes readable
  yield* WaitFd.signal(fd)
  yield* WaitCtx.awaitReady(ctx) // the select() of the C example

  const done = yield* AsyncJob.resume(step.job)
  if (done._tag === "Finished") {
    yield* Console.log(`caller: finished with ${done.value}`)
  }
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(JobPool.layer()))
)
