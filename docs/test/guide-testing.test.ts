/**
 * The example of the guide "Testing with the test layers"
 * (guides/testing.md includes this file): code built on async-job
 * tested with TestEngine (a fake offload engine the test drives),
 * EventRecorder (the engine's events in order) and TestClock.
 */
import { AsyncJob, JobPool, WaitCtx } from "@async-job/core"
import { EventRecorder, TestEngine } from "@async-job/testing"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"

// #region code
/**
 * The code under test: signs a message in a job, through the engine
 * in context.
 */
const signMessage = (message: string) =>
  Effect.scoped(
    Effect.flatMap(WaitCtx.make, (ctx) =>
      TestEngine.submit<string>("sign", message).pipe(
        AsyncJob.run({ waitCtx: ctx })
      ))
  )
// #endregion code

// #region layers
const TestLive = (options?: TestEngine.Options) =>
  Layer.mergeAll(
    JobPool.layer({ maxSize: 4 }),
    TestEngine.layer(options)
  ).pipe(
    Layer.provideMerge(EventRecorder.layer)
  )
// #endregion layers

describe("signMessage", () => {
  // #region manual
  it.effect(
    "pauses until the engine answers, then finishes and cleans up",
    () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(signMessage("hello"))
        const [op] = yield* TestEngine.awaitSubmissions(1)
        strictEqual(op!.mode, "fd")
        yield* TestEngine.complete(op!.id, "signature")
        strictEqual(yield* Fiber.join(fiber), "signature")
        strictEqual(yield* TestEngine.openFds, 0)
        deepStrictEqual(yield* EventRecorder.lines, [
          "Started p1 j1",
          "Paused p1 j1",
          "Resumed p1 j1",
          "Ended p1 j1 finished",
          "CleanupRan w1 TestEngine#1 f1",
          "WaitCtxClosed w1"
        ])
      }).pipe(Effect.provide(TestLive()))
  )
  // #endregion manual

  // #region latency
  it.effect("with a latency, under the TestClock", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(signMessage("hello"))
      yield* TestEngine.awaitSubmissions(1)
      yield* TestClock.adjust("10 millis")
      strictEqual(yield* Fiber.join(fiber), "sig(hello)")
    }).pipe(
      Effect.provide(
        TestLive({
          latency: "10 millis",
          respond: (op) => `sig(${op.input})`
        })
      )
    ))
  // #endregion latency

  // #region failure
  it.effect(
    "an engine failure fails the job, which releases its slot",
    () =>
      Effect.gen(function*() {
        const fiber = yield* Effect.forkChild(signMessage("hello"))
        const [op] = yield* TestEngine.awaitSubmissions(1)
        yield* TestEngine.fail(op!.id, "device error")
        const exit = yield* Fiber.await(fiber)
        deepStrictEqual(Exit.isFailure(exit), true)
        const pool = yield* JobPool.JobPool
        deepStrictEqual(yield* pool.stats, {
          maxSize: 4,
          created: 1,
          idle: 1,
          running: 0,
          paused: 0
        })
      }).pipe(Effect.provide(TestLive()))
  )
  // #endregion failure
})
