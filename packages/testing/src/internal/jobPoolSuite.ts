import * as AsyncJob from "@async-job/core/AsyncJob"
import type { InvalidPoolSizeError } from "@async-job/core/Errors"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import * as WaitFd from "@async-job/core/WaitFd"
import { describe, it } from "@effect/vitest"
import { assertFalse, assertNone, assertTrue, deepStrictEqual, fail, strictEqual } from "@effect/vitest/utils"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as EventRecorder from "../EventRecorder.js"

type MakeLayer<E> = (options?: JobPool.Options) => Layer.Layer<JobPool.JobPool, E | InvalidPoolSizeError>

/** @internal */
export const expectPaused = <A, E>(step: AsyncJob.JobResult<A, E>): AsyncJob.Job<A, E> => {
  if (step._tag !== "Paused") fail(`expected Paused, got ${JSON.stringify(step)}`)
  return (step as AsyncJob.Paused<A, E>).job
}

/** @internal */
export const expectFinished = <A, E>(step: AsyncJob.JobResult<A, E>): A => {
  if (step._tag !== "Finished") fail(`expected Finished, got ${step._tag}`)
  return (step as AsyncJob.Finished<A>).value
}

/** A reference for the ambient-context tests (S8): effect 4's stand-in for a FiberRef. */
const Level = Context.Reference<string>("@async-job/testing/JobPoolSuite/Level", { defaultValue: () => "G" })

/**
 * Gives `ref` a value for the rest of the current fiber, as effect 3's `FiberRef.set` did: effect 4 has no
 * such operation (a region gets a value with `Effect.provideService`), but a fiber's context can be replaced.
 */
const setForRestOfFiber = <A>(ref: Context.Reference<A>, value: A): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    fiber.setContext(Context.add(fiber.context, ref, value))
    return Effect.void
  })

const stats = (maxSize: number, created: number, idle: number, running: number, paused: number) => ({
  maxSize,
  created,
  idle,
  running,
  paused
})

/** @internal */
export const testJobPool = <E>(name: string, makeLayer: MakeLayer<E>): void => {
  /** Builds a pool (with an event recorder in context) into `scope`. */
  const buildIn = (scope: Scope.Scope, options?: JobPool.Options) =>
    Effect.map(
      Layer.buildWithScope(makeLayer(options).pipe(Layer.provideMerge(EventRecorder.layer)), scope),
      (context) => ({
        context,
        pool: Context.get(context, JobPool.JobPool),
        recorder: Context.get(context, EventRecorder.EventRecorder)
      })
    )
  const build = (options?: JobPool.Options) => Effect.flatMap(Effect.scope, (scope) => buildIn(scope, options))

  const onlyPause = Effect.as(AsyncJob.pause, 1)

  describe(`JobPool contract: ${name}`, () => {
    describe("limits (Port decision 4)", () => {
      it.effect("accepts valid limits and pre-creates initSize records", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 4, initSize: 2 })
          deepStrictEqual(yield* pool.stats, stats(4, 2, 2, 0, 0))
          const unbounded = yield* build()
          deepStrictEqual(yield* unbounded.pool.stats, stats(0, 0, 0, 0, 0))
        }))

      it.effect("refuses invalid limits with InvalidPoolSizeError", () =>
        Effect.gen(function*() {
          const invalid: ReadonlyArray<JobPool.Options> = [
            { maxSize: 1, initSize: 2 },
            { maxSize: 0, initSize: 1 },
            { maxSize: -1 },
            { maxSize: 1.5 },
            { initSize: Number.NaN },
            { maxSize: 2 ** 31 }
          ]
          for (const options of invalid) {
            const error = yield* Effect.flip(build(options))
            strictEqual((error as { _tag?: string })._tag, "InvalidPoolSizeError", JSON.stringify(options))
          }
        }))

      it.effect("reconfigure replaces the limits; outstanding jobs count against the new maxSize", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 3 })
          yield* pool.start(onlyPause)
          yield* pool.start(onlyPause)
          yield* pool.reconfigure({ maxSize: 2, initSize: 2 })
          deepStrictEqual(yield* pool.stats, stats(2, 2, 0, 0, 2))
          strictEqual((yield* Effect.flip(pool.start(onlyPause)))._tag, "NoJobsError")
          yield* pool.reconfigure({ maxSize: 5, initSize: 4 })
          deepStrictEqual(yield* pool.stats, stats(5, 4, 2, 0, 2))
          const error = yield* Effect.flip(pool.reconfigure({ maxSize: 1, initSize: 3 }))
          strictEqual(error._tag, "InvalidPoolSizeError")
          deepStrictEqual(yield* pool.stats, stats(5, 4, 2, 0, 2))
        }))
    })

    describe("start, pause, resume", () => {
      it.effect("S2: the pool bounds outstanding jobs and reuses finished ones", () =>
        Effect.gen(function*() {
          const { pool, recorder } = yield* build({ maxSize: 2 })
          const ctx = yield* WaitCtx.make
          const h1 = expectPaused(yield* pool.start(onlyPause, { waitCtx: ctx }))
          const h2 = expectPaused(yield* pool.start(onlyPause, { waitCtx: ctx }))
          assertTrue(h1 !== h2)
          deepStrictEqual(yield* pool.stats, stats(2, 2, 0, 0, 2))
          const noJobs = yield* Effect.flip(pool.start(onlyPause, { waitCtx: ctx }))
          strictEqual(noJobs._tag, "NoJobsError")
          // nothing happened: same counts
          deepStrictEqual(yield* pool.stats, stats(2, 2, 0, 0, 2))
          strictEqual(expectFinished(yield* pool.resume(h1)), 1)
          deepStrictEqual(yield* pool.stats, stats(2, 2, 1, 0, 1))
          const h3 = expectPaused(yield* pool.start(onlyPause, { waitCtx: ctx }))
          assertTrue(h3 !== h1)
          deepStrictEqual(yield* pool.stats, stats(2, 2, 0, 0, 2))
          strictEqual(expectFinished(yield* pool.resume(h2)), 1)
          strictEqual(expectFinished(yield* pool.resume(h3)), 1)
          deepStrictEqual(yield* pool.stats, stats(2, 2, 2, 0, 0))
          deepStrictEqual(yield* recorder.lines, [
            "Started p1 j1",
            "Paused p1 j1",
            "Started p1 j2",
            "Paused p1 j2",
            "NoJobs p1",
            "Resumed p1 j1",
            "Ended p1 j1 finished",
            "Started p1 j3",
            "Paused p1 j3",
            "Resumed p1 j2",
            "Ended p1 j2 finished",
            "Resumed p1 j3",
            "Ended p1 j3 finished"
          ])
        }))

      it.effect("S4: side effects happen segment by segment", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          let ctr = 0
          const addTwo = Effect.gen(function*() {
            ctr++
            yield* AsyncJob.pause
            ctr++
            return 2
          })
          const job = expectPaused(yield* pool.start(addTwo))
          strictEqual(ctr, 1)
          strictEqual(AsyncJob.stateUnsafe(job), "paused")
          strictEqual(expectFinished(yield* pool.resume(job)), 2)
          strictEqual(ctr, 2)
          strictEqual(AsyncJob.stateUnsafe(job), "finished")
        }))

      it.effect("a job that never pauses finishes in its start", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          deepStrictEqual(yield* pool.start(Effect.succeed("done")), { _tag: "Finished", value: "done" })
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
        }))

      it.effect("S5: the current job is the handle the caller receives, fresh for every run", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          let saved: Option.Option<AsyncJob.Job> = Option.none()
          const body = Effect.gen(function*() {
            saved = yield* AsyncJob.current
            yield* AsyncJob.pause
            return yield* AsyncJob.current
          })
          assertNone(yield* AsyncJob.current)
          const job = expectPaused(yield* pool.start(body))
          assertTrue(Option.isSome(saved) && saved.value === job)
          assertNone(yield* AsyncJob.current)
          const again = expectFinished(yield* pool.resume(job))
          assertTrue(Option.isSome(again) && again.value === job)
          const next = expectPaused(yield* pool.start(body))
          assertTrue(next !== job)
          assertTrue(next.id !== job.id)
          yield* pool.resume(next)
        }))

      it.effect("pause outside a job does nothing; isCapable holds", () =>
        Effect.gen(function*() {
          yield* AsyncJob.pause
          yield* AsyncJob.blockPause
          yield* AsyncJob.unblockPause
          assertTrue(yield* AsyncJob.isCapable)
        }))
    })

    describe("handles (Port decisions 1, 3, 13)", () => {
      it.effect("a stale handle is refused and changes nothing", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 2 })
          let runs = 0
          const body = Effect.gen(function*() {
            runs++
            yield* AsyncJob.pause
          })
          const job = expectPaused(yield* pool.start(body))
          yield* pool.resume(job)
          const before = yield* pool.stats
          const error = yield* Effect.flip(pool.resume(job))
          strictEqual(error._tag, "StaleJobError")
          strictEqual((yield* Effect.flip(pool.cancel(job)))._tag, "StaleJobError")
          strictEqual(runs, 1)
          deepStrictEqual(yield* pool.stats, before)
          assertNone(AsyncJob.waitCtxUnsafe(job))
        }))

      it.effect("resuming a running job is refused and leaves it undisturbed", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 2 })
          const inside = yield* Deferred.make<AsyncJob.Job>()
          const go = yield* Deferred.make<void>()
          const body = Effect.gen(function*() {
            const self = yield* AsyncJob.current
            yield* Deferred.succeed(inside, Option.getOrThrow(self))
            yield* Deferred.await(go)
            return "ok"
          })
          const starter = yield* Effect.forkChild(pool.start(body))
          const job = (yield* Deferred.await(inside)) as AsyncJob.Job<string, never>
          strictEqual(AsyncJob.stateUnsafe(job), "running")
          deepStrictEqual(yield* pool.stats, stats(2, 1, 0, 1, 0))
          strictEqual((yield* Effect.flip(pool.resume(job)))._tag, "JobNotPausedError")
          strictEqual((yield* Effect.flip(pool.cancel(job)))._tag, "JobNotPausedError")
          yield* Deferred.succeed(go, undefined)
          deepStrictEqual(yield* Fiber.join(starter), { _tag: "Finished", value: "ok" })
        }))

      it.effect("a job can be resumed only through its own pool", () =>
        Effect.gen(function*() {
          const a = yield* build({ maxSize: 1 })
          const b = yield* build({ maxSize: 1 })
          const job = expectPaused(yield* a.pool.start(onlyPause))
          strictEqual((yield* Effect.flip(b.pool.resume(job)))._tag, "ForeignJobError")
          strictEqual((yield* Effect.flip(b.pool.cancel(job)))._tag, "ForeignJobError")
          strictEqual(AsyncJob.stateUnsafe(job), "paused")
          deepStrictEqual(yield* b.pool.stats, stats(1, 0, 0, 0, 0))
          strictEqual(expectFinished(yield* a.pool.resume(job)), 1)
        }))

      it.effect("several jobs run at once (Port decision 3)", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 3 })
          const steps = yield* Effect.all([pool.start(onlyPause), pool.start(onlyPause), pool.start(onlyPause)], {
            concurrency: "unbounded"
          })
          deepStrictEqual(yield* pool.stats, stats(3, 3, 0, 0, 3))
          const done = yield* Effect.forEach(steps, (step) => pool.resume(expectPaused(step)), {
            concurrency: "unbounded"
          })
          deepStrictEqual(done.map(expectFinished), [1, 1, 1])
        }))
    })

    describe("wait ctx (Port decisions 7, 8)", () => {
      it.effect("S6: the change bookkeeping resets when the job is resumed", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          const ctx = yield* WaitCtx.make
          const fd = yield* WaitFd.make
          const body = Effect.gen(function*() {
            const self = Option.getOrThrow(yield* AsyncJob.current)
            const c = Option.getOrThrow(AsyncJob.waitCtxUnsafe(self))
            yield* AsyncJob.pause
            yield* WaitCtx.setWaitFd(c, c, fd)
            yield* AsyncJob.pause
            assertTrue(yield* WaitCtx.clearFd(c, c))
            yield* AsyncJob.pause
            yield* WaitCtx.setWaitFd(c, c, fd)
            assertTrue(yield* WaitCtx.clearFd(c, c))
            return 1
          })
          const view = Effect.all([WaitCtx.getAllFds(ctx), WaitCtx.getChangedFds(ctx)])
          const job = expectPaused(yield* pool.start(body, { waitCtx: ctx }))
          assertTrue(Option.getOrThrow(AsyncJob.waitCtxUnsafe(job)) === ctx)
          deepStrictEqual(yield* view, [[], { added: [], deleted: [] }])
          expectPaused(yield* pool.resume(job))
          deepStrictEqual(yield* view, [[fd], { added: [fd], deleted: [] }])
          expectPaused(yield* pool.resume(job))
          deepStrictEqual(yield* view, [[], { added: [], deleted: [fd] }])
          strictEqual(expectFinished(yield* pool.resume(job)), 1)
          deepStrictEqual(yield* view, [[], { added: [], deleted: [] }])
          assertNone(AsyncJob.waitCtxUnsafe(job))
        }))

      it.effect("S10: nothing resets at FINISH", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          const ctx = yield* WaitCtx.make
          const fd = yield* WaitFd.make
          const body = Effect.gen(function*() {
            yield* AsyncJob.pause
            yield* WaitCtx.setWaitFd(ctx, "k", fd)
            yield* AsyncJob.pause
            yield* WaitCtx.clearFd(ctx, "k")
            return 1
          })
          const job = expectPaused(yield* pool.start(body, { waitCtx: ctx }))
          expectPaused(yield* pool.resume(job))
          deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [fd], deleted: [] })
          strictEqual(expectFinished(yield* pool.resume(job)), 1)
          deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [fd] })
          // the next job on the ctx inherits the flags until it is resumed once
          const next = expectPaused(yield* pool.start(onlyPause, { waitCtx: ctx }))
          deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [fd] })
          yield* pool.resume(next)
          deepStrictEqual(yield* WaitCtx.getChangedFds(ctx), { added: [], deleted: [] })
        }))

      it.effect("a job without a wait ctx pauses and resumes", () =>
        Effect.gen(function*() {
          const { pool } = yield* build()
          const job = expectPaused(yield* pool.start(Effect.andThen(AsyncJob.pause, AsyncJob.pause)))
          assertNone(AsyncJob.waitCtxUnsafe(job))
          expectPaused(yield* pool.resume(job))
          expectFinished(yield* pool.resume(job))
        }))

      it.effect("closing a wait ctx cancels its paused job, then runs the fd cleanups", () =>
        Effect.gen(function*() {
          const { context, pool, recorder } = yield* build({ maxSize: 1 })
          const log: Array<string> = []
          const ctxScope = yield* Scope.make()
          // made with the recorder in context, so that the ctx reports to it too
          const ctx = yield* Scope.provide(WaitCtx.make, ctxScope).pipe(Effect.provide(context))
          const fd = yield* WaitFd.make
          const body = Effect.gen(function*() {
            yield* WaitCtx.setWaitFd(ctx, "engine", fd, { cleanup: () => Effect.sync(() => log.push("fd cleanup")) })
            yield* AsyncJob.pause
            log.push("resumed")
          }).pipe(Effect.ensuring(Effect.sync(() => log.push("job finalizer"))))
          const job = expectPaused(yield* pool.start(body, { waitCtx: ctx }))
          yield* Scope.close(ctxScope, Exit.void)
          deepStrictEqual(log, ["job finalizer", "fd cleanup"])
          strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
          strictEqual((yield* Effect.flip(pool.resume(job)))._tag, "StaleJobError")
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
          assertFalse(yield* WaitCtx.isOpen(ctx))
          deepStrictEqual((yield* recorder.lines).slice(2), [
            "Ended p1 j1 cancelled",
            "CleanupRan w1 engine f1",
            "WaitCtxClosed w1"
          ])
        }))
    })

    describe("pause blocking (Port decision 6)", () => {
      it.effect("S7: a blocked pause does nothing", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          const body = Effect.gen(function*() {
            yield* AsyncJob.blockPause
            yield* AsyncJob.pause
            yield* AsyncJob.unblockPause
            yield* AsyncJob.pause
            return 1
          })
          const job = expectPaused(yield* pool.start(body))
          strictEqual(expectFinished(yield* pool.resume(job)), 1)
        }))

      it.effect("the counter belongs to the job; extra unblocks are ignored", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          expectFinished(yield* pool.start(Effect.andThen(AsyncJob.blockPause, AsyncJob.pause)))
          // the next job on the same pool is not blocked
          const job = expectPaused(yield* pool.start(onlyPause))
          yield* pool.resume(job)
          const unbalanced = Effect.gen(function*() {
            yield* AsyncJob.unblockPause
            yield* AsyncJob.unblockPause
            yield* AsyncJob.blockPause
            yield* AsyncJob.pause
            yield* AsyncJob.unblockPause
            yield* AsyncJob.pause
          })
          expectFinished(yield* pool.resume(expectPaused(yield* pool.start(unbalanced))))
          const scoped = AsyncJob.withPauseBlocked(AsyncJob.pause).pipe(Effect.andThen(AsyncJob.pause))
          expectFinished(yield* pool.resume(expectPaused(yield* pool.start(scoped))))
        }))
    })

    describe("ambient context (Port decision 11)", () => {
      it.effect("S8: references are isolated between the job and its caller", () =>
        Effect.gen(function*() {
          const { pool } = yield* build()
          const seen: Array<string> = []
          const body = Effect.gen(function*() {
            // the caller's value at start
            seen.push(yield* Level)
            yield* Effect.gen(function*() {
              seen.push(yield* Level)
              yield* AsyncJob.pause
              // the job's own value holds across its pause, whatever its resumer provides
              seen.push(yield* Level)
            }).pipe(Effect.provideService(Level, "J"))
            yield* AsyncJob.pause
            // still the value of its start, not its resumer's
            seen.push(yield* Level)
            return 1
          })
          const job = expectPaused(yield* Effect.provideService(pool.start(body), Level, "L"))
          strictEqual(yield* Level, "G")
          expectPaused(yield* Effect.provideService(pool.resume(job), Level, "R1"))
          expectFinished(yield* Effect.provideService(pool.resume(job), Level, "R2"))
          strictEqual(yield* Level, "G")
          deepStrictEqual(seen, ["L", "J", "J", "L"])
        }))

      it.effect("S8: a value set for the rest of a fiber stays with that fiber, the job's or its caller's", () =>
        Effect.gen(function*() {
          const { pool } = yield* build()
          yield* setForRestOfFiber(Level, "L")
          const seen: Array<string> = []
          const body = Effect.gen(function*() {
            seen.push(yield* Level)
            yield* setForRestOfFiber(Level, "J")
            yield* AsyncJob.pause
            seen.push(yield* Level)
            yield* AsyncJob.pause
            seen.push(yield* Level)
            return 1
          })
          const job = expectPaused(yield* pool.start(body))
          strictEqual(yield* Level, "L")
          expectPaused(yield* pool.resume(job))
          yield* setForRestOfFiber(Level, "G")
          expectFinished(yield* pool.resume(job))
          strictEqual(yield* Level, "G")
          deepStrictEqual(seen, ["L", "J", "J"])
        }))

      it.effect("a job sees nothing of the previous runs on its pool", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          yield* setForRestOfFiber(Level, "caller")
          expectFinished(yield* pool.start(setForRestOfFiber(Level, "finished job")))
          strictEqual(expectFinished(yield* pool.start(Level)), "caller")
          const cancelled = expectPaused(
            yield* pool.start(Effect.andThen(setForRestOfFiber(Level, "cancelled"), AsyncJob.pause))
          )
          yield* pool.cancel(cancelled)
          strictEqual(expectFinished(yield* pool.start(Level)), "caller")
          yield* Effect.flip(pool.start(Effect.andThen(setForRestOfFiber(Level, "failed"), Effect.fail("no"))))
          strictEqual(expectFinished(yield* pool.start(Level)), "caller")
          const blocked = Effect.andThen(AsyncJob.blockPause, Effect.as(AsyncJob.pause, "blocked"))
          expectFinished(yield* pool.start(blocked))
          // nor the pause block of a job that ended blocked (Port decision 6)
          expectFinished(yield* pool.resume(expectPaused(yield* pool.start(AsyncJob.pause))))
        }))

      it.effect("fibers forked by a job end with it", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          const forked = yield* Deferred.make<void>()
          let interrupted = 0
          const child = Effect.andThen(Deferred.succeed(forked, undefined), Effect.never).pipe(
            Effect.onInterrupt(() => Effect.sync(() => interrupted++))
          )
          const body = Effect.gen(function*() {
            yield* Effect.forkChild(child)
            yield* Deferred.await(forked)
            yield* AsyncJob.pause
            return "done"
          })
          const job = expectPaused(yield* pool.start(body))
          strictEqual(interrupted, 0)
          strictEqual(expectFinished(yield* pool.resume(job)), "done")
          strictEqual(interrupted, 1)
        }))
    })

    describe("nesting (Port decision 2)", () => {
      it.effect("a job starts and resumes an inner job from the same pool", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 2 })
          const outer = Effect.gen(function*() {
            const self = Option.getOrThrow(yield* AsyncJob.current)
            const inner = expectPaused(
              yield* pool.start(Effect.gen(function*() {
                const me = Option.getOrThrow(yield* AsyncJob.current)
                assertTrue(me !== self)
                yield* AsyncJob.pause
                return "inner"
              }))
            )
            const current = Option.getOrThrow(yield* AsyncJob.current)
            assertTrue(current === self)
            const full = yield* Effect.flip(pool.start(Effect.void))
            strictEqual(full._tag, "NoJobsError")
            yield* AsyncJob.pause
            return expectFinished(yield* pool.resume(inner))
          })
          const job = expectPaused(yield* pool.start(outer))
          deepStrictEqual(yield* pool.stats, stats(2, 2, 0, 0, 2))
          strictEqual(expectFinished(yield* pool.resume(job)), "inner")
          deepStrictEqual(yield* pool.stats, stats(2, 2, 2, 0, 0))
        }))
    })

    describe("endings (Port decisions 5, 10)", () => {
      it.effect("a failing body fails its start or resume; the slot returns", () =>
        Effect.gen(function*() {
          const { pool, recorder } = yield* build({ maxSize: 1 })
          const body = Effect.andThen(AsyncJob.pause, Effect.fail("boom" as const))
          const job = expectPaused(yield* pool.start(body))
          strictEqual(yield* Effect.flip(pool.resume(job)), "boom")
          strictEqual(AsyncJob.stateUnsafe(job), "failed")
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
          const died = yield* Effect.exit(pool.start(Effect.die("defect")))
          assertTrue(Exit.isFailure(died))
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
          deepStrictEqual((yield* recorder.lines).filter((line) => line.startsWith("Ended")), [
            "Ended p1 j1 failed",
            "Ended p1 j2 failed"
          ])
        }))

      it.effect("cancel interrupts a paused job; its finalizers run once", () =>
        Effect.gen(function*() {
          const { pool, recorder } = yield* build({ maxSize: 1 })
          let finalized = 0
          const body = Effect.ensuring(AsyncJob.pause, Effect.sync(() => finalized++))
          const job = expectPaused(yield* pool.start(body))
          yield* pool.cancel(job)
          strictEqual(finalized, 1)
          strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
          strictEqual((yield* Effect.flip(pool.cancel(job)))._tag, "StaleJobError")
          strictEqual(finalized, 1)
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
          deepStrictEqual(yield* recorder.lines, [
            "Started p1 j1",
            "Paused p1 j1",
            "CancelRequested p1 j1",
            "Ended p1 j1 cancelled"
          ])
        }))

      it.effect("interrupting the caller of start interrupts the running job", () =>
        Effect.gen(function*() {
          const { pool } = yield* build({ maxSize: 1 })
          const entered = yield* Deferred.make<void>()
          let finalized = 0
          const body = Deferred.succeed(entered, undefined).pipe(
            Effect.andThen(Effect.never),
            Effect.ensuring(Effect.sync(() => finalized++))
          )
          const caller = yield* Effect.forkChild(pool.start(body))
          yield* Deferred.await(entered)
          yield* Fiber.interrupt(caller)
          strictEqual(finalized, 1)
          deepStrictEqual(yield* pool.stats, stats(1, 1, 1, 0, 0))
        }))

      it.effect("closing the pool cancels paused jobs and waits for them (cleanup_thread)", () =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const { pool, recorder } = yield* buildIn(scope, { maxSize: 3 })
          const log: Array<string> = []
          const body = (n: number) =>
            Effect.ensuring(
              Effect.andThen(AsyncJob.pause, Effect.sync(() => log.push(`resumed ${n}`))),
              Effect.sync(() => log.push(`finalizer ${n}`))
            )
          const j1 = expectPaused(yield* pool.start(body(1)))
          const j2 = expectPaused(yield* pool.start(body(2)))
          yield* Scope.close(scope, Exit.void)
          deepStrictEqual(log.slice().sort(), ["finalizer 1", "finalizer 2"])
          strictEqual(AsyncJob.stateUnsafe(j1), "cancelled")
          strictEqual((yield* Effect.flip(pool.resume(j2)))._tag, "StaleJobError")
          const stat = yield* pool.stats
          strictEqual(stat.running + stat.paused, 0)
          const lines = yield* recorder.lines
          strictEqual(lines[lines.length - 1], "PoolClosed p1")
          deepStrictEqual(lines.filter((line) => line.startsWith("Ended")).sort(), [
            "Ended p1 j1 cancelled",
            "Ended p1 j2 cancelled"
          ])
        }))
    })
  })
}
