/**
 * Callback mode: a wait ctx with a callback instead of a wait fd.
 * The engine reports its submission through the status ("ok", or
 * "eagain" when it is busy), and completion through the callback.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import { Console, Effect, Fiber, Option, Queue } from "effect"

/**
 * A toy engine: refuses the first submission, then queues the ctx
 * of each job it accepts.
 */
const makeEngine = Effect.map(
  Queue.unbounded<WaitCtx.WaitCtx>(),
  (accepted) => ({
    accepted,
    busy: 1,
    results: new Map<WaitCtx.WaitCtx, string>()
  })
)
type Engine = Effect.Success<typeof makeEngine>

const submit = (engine: Engine, ctx: WaitCtx.WaitCtx) =>
  Effect.gen(function*() {
    if (engine.busy > 0) {
      engine.busy--
      // marks the ctx ready: the application resumes the job now
      yield* WaitCtx.setStatus(ctx, "eagain")
      return false
    }
    // submitted: expect the callback
    yield* WaitCtx.setStatus(ctx, "ok")
    yield* Queue.offer(engine.accepted, ctx)
    return true
  })

const sign = (engine: Engine) =>
  Effect.gen(function*() {
    const ctx = Option.getOrThrow(
      Option.flatMap(
        yield* AsyncJob.current,
        AsyncJob.waitCtxUnsafe
      )
    )
    while (!(yield* submit(engine, ctx))) {
      const status = yield* WaitCtx.getStatus(ctx)
      yield* Console.log(
        `job: status ${status}, pausing before submitting again`
      )
      yield* AsyncJob.pause
    }
    const status = yield* WaitCtx.getStatus(ctx)
    yield* Console.log(
      `job: status ${status}, pausing until the callback`
    )
    // a resume is a hint: pause until the result is really there
    while (!engine.results.has(ctx)) yield* AsyncJob.pause
    return engine.results.get(ctx)!
  })

const program = Effect.gen(function*() {
  const engine = yield* makeEngine
  const ctx = yield* WaitCtx.make
  yield* WaitCtx.setCallback(ctx, (arg) => {
    console.log(`callback: ${arg} can be resumed`)
    return 1
  }, "connection 1")

  // AsyncJob.run is the driver: it resumes the job whenever its
  // wait ctx is ready
  const job = yield* Effect.forkChild(
    AsyncJob.run(sign(engine), { waitCtx: ctx })
  )

  const submitted = yield* Queue.take(engine.accepted)
  engine.results.set(submitted, "signature")
  yield* Console.log("engine: done, invoking the callback")
  yield* WaitCtx.invokeCallback(submitted)

  const result = yield* Fiber.join(job)
  const status = yield* WaitCtx.getStatus(ctx)
  yield* Console.log(`result: ${result}; status now ${status}`)
})

Effect.runPromise(
  program.pipe(Effect.scoped, Effect.provide(JobPool.layer()))
)
