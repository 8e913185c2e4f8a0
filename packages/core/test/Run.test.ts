/** `AsyncJob.run`: the driver loop, and a timeout that really interrupts the job. */
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Data, type Duration, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import * as AsyncJob from "../src/AsyncJob.js"
import { JobTimeoutError, NoJobsError } from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import * as WaitFd from "../src/WaitFd.js"
import { allIdle, makeLog } from "./utils.js"

/** A job waiting on an engine that completes after `latency`, signalling the job's fd. */
const offloaded = (latency: Duration.Input, log: { add: (s: string) => Effect.Effect<void> }) =>
  Effect.gen(function*() {
    const ctx = Option.getOrThrow(AsyncJob.waitCtxUnsafe(Option.getOrThrow(yield* AsyncJob.current)))
    const fd = yield* WaitFd.make
    yield* WaitCtx.setWaitFd(ctx, "engine", fd)
    yield* Effect.forkDetach(Effect.andThen(Effect.sleep(latency), WaitFd.signal(fd)))
    yield* log.add("submitted")
    // a resume is only a hint: pause again until the engine really completed
    while (!(yield* WaitFd.clear(fd))) yield* AsyncJob.pause
    yield* log.add("completed")
    yield* WaitCtx.clearFd(ctx, "engine")
    return "result"
  }).pipe(Effect.ensuring(log.add("job finally")))

describe("AsyncJob.run", () => {
  it.effect("drives a job through its pauses until it finishes", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const ctx = yield* WaitCtx.make
      const fiber = yield* Effect.forkChild(AsyncJob.run(offloaded("10 millis", log), { waitCtx: ctx }))
      yield* TestClock.adjust("10 millis")
      strictEqual(yield* Fiber.join(fiber), "result")
      deepStrictEqual(yield* log.get, ["submitted", "completed", "job finally"])
      deepStrictEqual(yield* (yield* JobPool.JobPool).stats, allIdle(0, 1))
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("without a wait ctx it polls: resumes a paused job at once", () =>
    Effect.gen(function*() {
      let segments = 0
      const body = Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          segments++
          yield* AsyncJob.pause
        }
        return segments
      })
      strictEqual(yield* AsyncJob.run(body), 3)
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("a timeout cancels the paused job, runs its finalizers, and fails with JobTimeoutError", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const ctx = yield* WaitCtx.make
      const fiber = yield* Effect.forkChild(
        Effect.flip(AsyncJob.run(offloaded("1 hour", log), { waitCtx: ctx, timeout: "1 second" }))
      )
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assertInstanceOf(error, JobTimeoutError)
      deepStrictEqual(yield* log.get, ["submitted", "job finally"])
      deepStrictEqual(yield* (yield* JobPool.JobPool).stats, allIdle(0, 1))
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("a timeout interrupts a job that is running, not paused", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const busy = Effect.andThen(log.add("busy"), Effect.never).pipe(Effect.ensuring(log.add("job finally")))
      const fiber = yield* Effect.forkChild(Effect.exit(AsyncJob.run(busy, { timeout: "5 seconds" })))
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.join(fiber)
      assertTrue(Exit.isFailure(exit))
      deepStrictEqual(yield* log.get, ["busy", "job finally"])
      deepStrictEqual(yield* (yield* JobPool.JobPool).stats, allIdle(0, 1))
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("interrupting run cancels the job; NoJobs and the body's errors pass through", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const ctx = yield* WaitCtx.make
      const fiber = yield* Effect.forkChild(AsyncJob.run(offloaded("1 hour", log), { waitCtx: ctx }))
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      yield* Fiber.interrupt(fiber)
      deepStrictEqual(yield* log.get, ["submitted", "job finally"])
      deepStrictEqual(yield* AsyncJob.run(Effect.fail("body error")).pipe(Effect.flip), "body error")
      const blocker = yield* AsyncJob.start(AsyncJob.pause)
      assertInstanceOf(yield* Effect.flip(AsyncJob.run(Effect.void)), NoJobsError)
      if (blocker._tag === "Paused") yield* AsyncJob.cancel(blocker.job)
    }).pipe(Effect.provide(JobPool.layer({ maxSize: 1 }))))

  it.effect("a job cancelled behind run's back interrupts run", () =>
    Effect.gen(function*() {
      const ctx = yield* WaitCtx.make
      let me: AsyncJob.Job | undefined
      const body = Effect.gen(function*() {
        me = Option.getOrThrow(yield* AsyncJob.current)
        yield* WaitCtx.setWaitFd(ctx, "k", WaitFd.makeUnsafe())
        yield* AsyncJob.pause
      })
      const fiber = yield* Effect.forkChild(AsyncJob.run(body, { waitCtx: ctx }))
      yield* Effect.yieldNow
      yield* Effect.yieldNow
      yield* AsyncJob.cancel(me!)
      assertTrue(Exit.hasInterrupts(yield* Fiber.await(fiber)))
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("data-last too; with no tracer installed its errors come back as they were failed, unwrapped", () =>
    Effect.gen(function*() {
      class EngineDown extends Data.TaggedError("EngineDown")<{}> {}
      const down = new EngineDown()
      const body = Effect.andThen(AsyncJob.pause, Effect.fail(down))
      strictEqual(yield* Effect.flip(body.pipe(AsyncJob.run())), down)
      strictEqual(yield* Effect.flip(AsyncJob.run(body, { timeout: "1 hour" })), down)
      strictEqual(yield* Effect.as(AsyncJob.pause, 7).pipe(AsyncJob.run({ timeout: "1 hour" })), 7)
    }).pipe(Effect.provide(JobPool.layer())))
})
