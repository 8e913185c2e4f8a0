/**
 * A user's tests with @async-job/testing: a job whose engine the test drives (TestEngine), and the pool contract
 * suite run against the engine's own pool.
 */
import { AsyncJob, JobPool, WaitCtx } from "@async-job/core"
import { JobPoolSuite, TestEngine } from "@async-job/testing"
import { describe, it } from "@effect/vitest"
import { deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Effect, Fiber, Layer } from "effect"

const sign = (message: string) => TestEngine.submit<string>("sign", message)

describe("a job on a test engine", () => {
  it.effect("waits on its wait fd until the test completes its operation", () =>
    Effect.gen(function*() {
      const signature = yield* Effect.scoped(Effect.gen(function*() {
        const ctx = yield* WaitCtx.make
        const fiber = yield* Effect.forkChild(AsyncJob.run(sign("hello"), { waitCtx: ctx }))
        const [op] = yield* TestEngine.awaitSubmissions(1)
        deepStrictEqual([op!.name, op!.input, op!.mode, op!.state], ["sign", "hello", "fd", "pending"])
        yield* TestEngine.complete(op!.id, "signature")
        const value = yield* Fiber.join(fiber)
        // the engine's wait fd stays on the wait ctx, for its next operations, until the ctx closes
        strictEqual(yield* TestEngine.openFds, 1)
        return value
      }))
      strictEqual(signature, "signature")
      strictEqual(yield* TestEngine.openFds, 0)
    }).pipe(Effect.provide(Layer.merge(JobPool.layer(), TestEngine.layer()))))
})

JobPoolSuite.testJobPool("JobPool.layer", JobPool.layer)
