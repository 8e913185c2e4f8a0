/**
 * Cancel and close always complete, whatever the job was doing when it paused:
 * inside an uninterruptible region, inside its own finalizer, or inside a
 * timeout or race of its own. Each test counts the finalizers that ran and the
 * pool's slots afterwards.
 */
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertNone, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as AsyncJob from "../src/AsyncJob.js"
import { JobTimeoutError, NoJobsError, StaleJobError } from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import { allIdle, makeLog, pausedJob } from "./utils.js"

/** A pool in a scope of its own, so that a test can close it and see the close complete. */
const poolInOwnScope = (maxSize: number) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const pool = yield* Scope.provide(JobPool.make({ maxSize }), scope)
    return { pool, scope }
  })

describe("cancel and close complete whatever the job was doing when it paused", () => {
  it.effect("a job paused inside acquireRelease's acquire is cancelled: the acquire fails, outer finalizers run once", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.acquireRelease(
        // acquiring a session through an asynchronous engine: the acquire pauses
        Effect.andThen(Effect.andThen(log.add("acquire"), AsyncJob.pause), log.add("acquired")),
        () => log.add("release")
      ).pipe(Effect.scoped, Effect.ensuring(log.add("job finally")))
      const job = yield* pausedJob(yield* pool.start(body))
      yield* pool.cancel(job)
      deepStrictEqual(yield* log.get, ["acquire", "job finally"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      assertInstanceOf(yield* Effect.flip(pool.resume(job)), StaleJobError)
      // the slot is back: with maxSize 1 the next start runs
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
      const next = yield* pool.start(Effect.succeed("next"))
      deepStrictEqual(next, { _tag: "Finished", value: "next" })
    }))

  it.effect("a job paused inside Effect.uninterruptible is cancelled", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.uninterruptible(Effect.andThen(AsyncJob.pause, log.add("after pause"))).pipe(
        Effect.ensuring(log.add("job finally"))
      )
      const job = yield* pausedJob(yield* pool.start(body))
      yield* pool.cancel(job)
      deepStrictEqual(yield* log.get, ["job finally"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("closing the pool completes with a job paused inside an uninterruptible region", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const { pool, scope } = yield* poolInOwnScope(1)
      const body = Effect.acquireRelease(AsyncJob.pause, () => log.add("release")).pipe(
        Effect.scoped,
        Effect.ensuring(log.add("job finally"))
      )
      const job = yield* pausedJob(yield* pool.start(body))
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual(yield* log.get, ["job finally"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
    }))

  it.effect("closing the pool completes with a job paused inside its own finalizer", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const { pool, scope } = yield* poolInOwnScope(1)
      // an asynchronous graceful shutdown of a session: the release pauses
      const body = Effect.acquireRelease(
        log.add("acquire"),
        () => Effect.andThen(Effect.andThen(log.add("release begins"), AsyncJob.pause), log.add("release ends"))
      ).pipe(Effect.andThen(Effect.succeed("done")), Effect.scoped, Effect.ensuring(log.add("job finally")))
      const job = yield* pausedJob(yield* pool.start(body))
      strictEqual(AsyncJob.stateUnsafe(job), "paused")
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual(yield* log.get, ["acquire", "release begins", "job finally"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
    }))

  it.effect("a job paused inside its own finalizer is cancelled, and a second pause there fails at once", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const pauseAndLog = (name: string) =>
        Effect.andThen(AsyncJob.pause, log.add(`${name} resumed`)).pipe(
          Effect.onInterrupt(() => log.add(`${name} interrupted`))
        )
      const body = Effect.void.pipe(
        Effect.ensuring(pauseAndLog("inner release")),
        Effect.ensuring(pauseAndLog("outer release"))
      )
      const job = yield* pausedJob(yield* pool.start(body))
      yield* pool.cancel(job)
      // the first pending pause fails with the cancel; the second finalizer's pause fails at once
      deepStrictEqual(yield* log.get, ["inner release interrupted", "outer release interrupted"])
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("during a slow cancel the job reads as cancelling, everywhere", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      const unwinding = yield* Deferred.make<void>()
      const letGo = yield* Deferred.make<void>()
      const body = AsyncJob.pause.pipe(
        Effect.ensuring(Effect.andThen(Deferred.succeed(unwinding, undefined), Deferred.await(letGo)))
      )
      const job = yield* pausedJob(yield* pool.start(body, { waitCtx: ctx }))
      const cancelling = yield* Effect.forkChild(pool.cancel(job))
      yield* Deferred.await(unwinding)
      strictEqual(AsyncJob.stateUnsafe(job), "cancelling")
      strictEqual(yield* AsyncJob.state(job), "cancelling")
      assertNone(yield* AsyncJob.waitCtx(job))
      const refused = yield* Effect.flip(pool.resume(job))
      assertInstanceOf(refused, StaleJobError)
      strictEqual(refused.state, "cancelling")
      // the job still holds its slot, and is executing (its finalizers): counted as running
      deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 0, running: 1, paused: 0 })
      assertInstanceOf(yield* Effect.flip(pool.start(Effect.void)), NoJobsError)
      // a second cancel waits for the same end (started at once: effect 4 would otherwise run it only after
      // letGo below, whose completion runs the job's finalizer to its end on this stack)
      const second = yield* Effect.forkChild(pool.cancel(job), { startImmediately: true })
      yield* Deferred.succeed(letGo, undefined)
      yield* Fiber.join(cancelling)
      yield* Fiber.join(second)
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("a pause timed out by the job's own code still waits for the resume", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.gen(function*() {
        const outcome = yield* AsyncJob.pause.pipe(Effect.timeout("1 second"), Effect.option)
        yield* log.add(`pause ended: ${Option.isSome(outcome) ? "resumed" : "timed out"}`)
        return "end"
      })
      const job = yield* pausedJob(yield* pool.start(body))
      yield* TestClock.adjust("5 seconds")
      // nobody resumed it: the job has not run on by itself
      strictEqual(AsyncJob.stateUnsafe(job), "paused")
      deepStrictEqual(yield* log.get, [])
      deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 0, running: 0, paused: 1 })
      // its next step goes to the resume, as any pause's does
      const step = yield* pool.resume(job)
      deepStrictEqual(step, { _tag: "Finished", value: "end" })
      strictEqual((yield* log.get).length, 1)
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("a pause raced by the job's own code still waits for the resume", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.race(Effect.as(AsyncJob.pause, "pause"), Effect.as(Effect.void, "other"))
      const job = yield* pausedJob(yield* pool.start(body))
      yield* Effect.yieldNow
      strictEqual(AsyncJob.stateUnsafe(job), "paused")
      const step = yield* pool.resume(job)
      assertTrue(step._tag === "Finished")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("AsyncJob.run with a timeout completes with a job paused inside an uninterruptible region", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      // the ctx never becomes ready: run waits until its timeout
      const body = Effect.acquireRelease(AsyncJob.pause, () => log.add("release")).pipe(
        Effect.scoped,
        Effect.ensuring(log.add("job finally"))
      )
      yield* WaitCtx.setCallback(ctx, () => 1)
      const fiber = yield* Effect.forkChild(
        AsyncJob.run(body, { waitCtx: ctx, timeout: "1 second" }).pipe(Effect.provideService(JobPool.JobPool, pool))
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assertInstanceOf(error, JobTimeoutError)
      deepStrictEqual(yield* log.get, ["job finally"])
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("AsyncJob.run with a timeout completes with a job paused inside its own finalizer", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      yield* WaitCtx.setCallback(ctx, () => 1)
      const release = Effect.andThen(log.add("release begins"), AsyncJob.pause).pipe(
        Effect.andThen(log.add("release ends"))
      )
      const body = Effect.acquireRelease(Effect.void, () => release).pipe(Effect.scoped, Effect.as("done"))
      const fiber = yield* Effect.forkChild(
        AsyncJob.run(body, { waitCtx: ctx, timeout: "1 second" }).pipe(Effect.provideService(JobPool.JobPool, pool))
      )
      yield* TestClock.adjust("2 seconds")
      assertInstanceOf(yield* Effect.flip(Fiber.join(fiber)), JobTimeoutError)
      deepStrictEqual(yield* log.get, ["release begins"])
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))
})
