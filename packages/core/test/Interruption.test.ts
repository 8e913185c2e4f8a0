/**
 * Interruption at every point: the action log asserts the order of events and
 * that every finalizer and cleanup ran exactly once; the pool returns to all-idle.
 */
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import { JobNotPausedError, StaleJobError } from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import * as WaitFd from "../src/WaitFd.js"
import { allIdle, makeLog, pausedJob } from "./utils.js"

describe("interruption", () => {
  it.effect("before start completes: the job is interrupted with its caller", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const running = yield* Deferred.make<void>()
      const body = Effect.gen(function*() {
        yield* log.add("segment 1")
        yield* Deferred.succeed(running, undefined)
        yield* Effect.never
      }).pipe(Effect.ensuring(log.add("job finally")))
      const caller = yield* Effect.forkChild(pool.start(body))
      yield* Deferred.await(running)
      deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 0, running: 1, paused: 0 })
      yield* Fiber.interrupt(caller)
      yield* log.add("caller interrupted")
      deepStrictEqual(yield* log.get, ["segment 1", "job finally", "caller interrupted"])
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("while paused: cancel runs the finalizers once and the handle goes stale", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.gen(function*() {
        yield* Effect.addFinalizer(() => log.add("scoped finalizer"))
        yield* AsyncJob.pause
        yield* log.add("never resumed")
      }).pipe(Effect.scoped, Effect.ensuring(log.add("job finally")))
      const job = yield* pausedJob(yield* pool.start(body))
      yield* AsyncJob.cancel(job).pipe(Effect.provideService(JobPool.JobPool, pool))
      deepStrictEqual(yield* log.get, ["scoped finalizer", "job finally"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      assertInstanceOf(yield* Effect.flip(pool.resume(job)), StaleJobError)
      assertInstanceOf(yield* Effect.flip(pool.cancel(job)), StaleJobError)
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
      deepStrictEqual(yield* log.get, ["scoped finalizer", "job finally"])
    }))

  it.effect("cancel refuses a running job and leaves it alone", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const gate = yield* Deferred.make<void>()
      const started = yield* Deferred.make<AsyncJob.Job>()
      const body = Effect.flatMap(AsyncJob.current, (me) =>
        Effect.andThen(Deferred.succeed(started, Option.getOrThrow(me)), Effect.as(Deferred.await(gate), "done")))
      const caller = yield* Effect.forkChild(pool.start(body))
      const running = yield* Deferred.await(started)
      assertInstanceOf(yield* Effect.flip(pool.cancel(running)), JobNotPausedError)
      yield* Deferred.succeed(gate, undefined)
      deepStrictEqual(yield* Fiber.join(caller), { _tag: "Finished", value: "done" })
    }))

  it.effect("during resume: interrupting the resumer interrupts the job", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const pool = yield* JobPool.make({ maxSize: 1 })
      const segment2 = yield* Deferred.make<void>()
      const body = Effect.gen(function*() {
        yield* log.add("segment 1")
        yield* AsyncJob.pause
        yield* log.add("segment 2")
        yield* Deferred.succeed(segment2, undefined)
        yield* Effect.never
      }).pipe(Effect.onInterrupt(() => log.add("job interrupted")))
      const job = yield* pausedJob(yield* pool.start(body))
      const resumer = yield* Effect.forkChild(pool.resume(job))
      yield* Deferred.await(segment2)
      yield* Fiber.interrupt(resumer)
      deepStrictEqual(yield* log.get, ["segment 1", "segment 2", "job interrupted"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("at pool close: running and paused jobs are interrupted, each finalizer once", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 3, initSize: 3 }), scope)
      const running = yield* Deferred.make<void>()
      const pausing = (n: number) => Effect.ensuring(AsyncJob.pause, log.add(`paused job ${n} finally`))
      yield* pool.start(pausing(1))
      yield* pool.start(pausing(2))
      const busy = Effect.andThen(Deferred.succeed(running, undefined), Effect.never).pipe(
        Effect.ensuring(log.add("running job finally"))
      )
      const caller = yield* Effect.forkChild(pool.start(busy))
      yield* Deferred.await(running)
      deepStrictEqual(yield* pool.stats, { maxSize: 3, created: 3, idle: 0, running: 1, paused: 2 })
      yield* Scope.close(scope, Exit.void)
      yield* log.add("pool closed")
      const entries = yield* log.get
      deepStrictEqual([...entries.slice(0, 3)].sort(), [
        "paused job 1 finally",
        "paused job 2 finally",
        "running job finally"
      ])
      strictEqual(entries[3], "pool closed")
      const callerExit = yield* Fiber.await(caller)
      assertTrue(Exit.hasInterrupts(callerExit))
      const stats = yield* pool.stats
      deepStrictEqual([stats.running, stats.paused], [0, 0])
    }))

  it.effect("at ctx close: the paused job unwinds before the cleanups run, each once", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const poolScope = yield* Scope.make()
      const poolInstance = yield* Scope.provide(JobPool.make(), poolScope)
      const ctxScope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)
      for (const name of ["a", "b"]) {
        yield* WaitCtx.setWaitFd(ctx, name, WaitFd.makeUnsafe(), { cleanup: () => log.add(`cleanup ${name}`) })
      }
      const body = AsyncJob.pause.pipe(Effect.ensuring(log.add("job finally")))
      yield* poolInstance.start(body, { waitCtx: ctx })
      yield* Scope.close(ctxScope, Exit.void)
      yield* Scope.close(ctxScope, Exit.void)
      deepStrictEqual(yield* log.get, ["job finally", "cleanup b", "cleanup a"])
      deepStrictEqual(yield* poolInstance.stats, allIdle(0, 1))
      yield* Scope.close(poolScope, Exit.void)
    }))

  it.effect("a failing cleanup does not skip the others and surfaces as a defect", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const scope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, scope)
      yield* WaitCtx.setWaitFd(ctx, 1, WaitFd.makeUnsafe(), { cleanup: () => log.add("cleanup 1") })
      yield* WaitCtx.setWaitFd(ctx, 2, WaitFd.makeUnsafe(), { cleanup: () => Effect.die("cleanup 2 broke") })
      yield* WaitCtx.setWaitFd(ctx, 3, WaitFd.makeUnsafe(), { cleanup: () => log.add("cleanup 3") })
      const exit = yield* Effect.exit(Scope.close(scope, Exit.void))
      deepStrictEqual(yield* log.get, ["cleanup 3", "cleanup 1"])
      assertTrue(Exit.isFailure(exit))
    }))

  it.effect("interrupting a job from inside (it interrupts itself) ends it as cancelled", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const exit = yield* Effect.exit(pool.start(Effect.interrupt))
      assertTrue(Exit.hasInterrupts(exit))
      deepStrictEqual(yield* pool.stats, allIdle(0, 1))
    }))
})
