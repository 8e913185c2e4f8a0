/** The engine's fast-shaped Deferred must be a Deferred in every respect that effect checks. */
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import * as fastDeferred from "../src/internal/deferred.js"

describe("fast Deferred", () => {
  it.effect("behaves as effect's Deferred", () =>
    Effect.gen(function*() {
      const fiberId = yield* Effect.fiberId
      const d = fastDeferred.unsafeMake<number, string>(fiberId)
      assertTrue(Deferred.DeferredTypeId in d)
      assertTrue(Option.isNone(yield* Deferred.poll(d)))
      assertTrue(!(yield* Deferred.isDone(d)))
      const waiters = yield* Effect.all([Effect.fork(Deferred.await(d)), Effect.fork(d)])
      yield* Effect.yieldNow()
      assertTrue(Deferred.unsafeDone(d, Exit.succeed(7)) === undefined)
      deepStrictEqual(yield* Effect.all(waiters.map(Fiber.join)), [7, 7])
      strictEqual(yield* Deferred.await(d), 7)
      assertTrue(!(yield* Deferred.succeed(d, 8)))
    }))

  it.effect("an interrupted waiter leaves it pending for the others", () =>
    Effect.gen(function*() {
      const d = fastDeferred.unsafeMake<void>(yield* Effect.fiberId)
      const first = yield* Effect.fork(Deferred.await(d))
      const second = yield* Effect.fork(Deferred.await(d))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(first)
      yield* Deferred.fail(d, undefined as never)
      assertTrue(Exit.isFailure(yield* Fiber.await(second)))
    }))
})
