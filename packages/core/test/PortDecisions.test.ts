/**
 * Each Port decision of the spec that applies to the Effect-native API.
 * Decision 9 (argument copies) belongs to the facade: an Effect body closes over
 * its inputs, there is no `args` buffer to copy.
 */
import { describe, it } from "@effect/vitest"
import { assertInstanceOf, assertNone, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Option, References, Scheduler, Scope } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import { ForeignJobError, InvalidPoolSizeError, JobNotPausedError, NoJobsError, StaleJobError } from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import * as WaitFd from "../src/WaitFd.js"
import { allIdle, finishedValue, makeLog, pausedJob } from "./utils.js"

const onlyPause = Effect.as(AsyncJob.pause, 1)

describe("Port decisions", () => {
  it.effect("1: handles are fresh per run; a stale handle is refused and changes nothing", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      const first = yield* pausedJob(yield* pool.start(onlyPause, { waitCtx: ctx }))
      yield* pool.resume(first)
      strictEqual(AsyncJob.stateUnsafe(first), "finished")
      assertNone(AsyncJob.waitCtxUnsafe(first))
      const second = yield* pausedJob(yield* pool.start(onlyPause, { waitCtx: ctx }))
      assertTrue(first !== second)
      const before = yield* pool.stats
      const error = yield* Effect.flip(pool.resume(first))
      assertInstanceOf(error, StaleJobError)
      strictEqual(error.state, "finished")
      deepStrictEqual(yield* pool.stats, before)
      strictEqual(AsyncJob.stateUnsafe(second), "paused")
      strictEqual(yield* finishedValue(yield* pool.resume(second)), 1)
    }))

  it.effect("2: jobs nested 500 deep each pause and finish, in order, on a stack that stays bounded", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const depth = 500
      const order: Array<string> = []
      // job n starts job n+1, pauses, then resumes it to its end
      const nested = (n: number): Effect.Effect<number> =>
        Effect.gen(function*() {
          order.push(`enter ${n}`)
          if (n === depth) {
            yield* AsyncJob.pause
            return n
          }
          const step = yield* Effect.orDie(pool.start(nested(n + 1)))
          yield* AsyncJob.pause
          let next = step
          while (next._tag === "Paused") next = yield* Effect.orDie(pool.resume(next.job))
          order.push(`leave ${n}`)
          return next.value
        })
      let step = yield* pool.start(nested(1))
      while (step._tag === "Paused") step = yield* pool.resume(step.job)
      deepStrictEqual(step, { _tag: "Finished", value: depth })
      strictEqual(order.length, depth * 2 - 1)
      deepStrictEqual(order.slice(0, 3), ["enter 1", "enter 2", "enter 3"])
      deepStrictEqual(order.slice(-2), ["leave 2", "leave 1"])
      deepStrictEqual(yield* pool.stats, allIdle(0, depth))
    }))

  it.effect("2: nested starts draw from the same pool and return to the outer job", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 2 })
      const seen: Array<string> = []
      const name = (job: Option.Option<AsyncJob.Job>) =>
        Option.match(job, { onNone: () => "none", onSome: (j) => `job${j.id}` })
      const inner = Effect.gen(function*() {
        seen.push(`inner runs as ${name(yield* AsyncJob.current)}`)
        yield* AsyncJob.pause
        return "inner done"
      })
      const outer = Effect.gen(function*() {
        const me = yield* AsyncJob.current
        const step = yield* pool.start(inner)
        seen.push(`outer sees inner ${step._tag}, runs as ${name(yield* AsyncJob.current)}`)
        const third = yield* Effect.result(pool.start(inner))
        seen.push(`third start: ${third._tag === "Failure" ? third.failure._tag : "started"}`)
        yield* AsyncJob.pause
        const innerJob = yield* pausedJob(step)
        const result = yield* finishedValue(yield* pool.resume(innerJob))
        assertTrue(Option.getOrThrow(me) !== innerJob)
        return result
      })
      const outerJob = yield* pausedJob(yield* pool.start(outer))
      deepStrictEqual(yield* pool.stats, { maxSize: 2, created: 2, idle: 0, running: 0, paused: 2 })
      strictEqual(yield* finishedValue(yield* pool.resume(outerJob)), "inner done")
      deepStrictEqual(seen, [
        `inner runs as job${outerJob.id + 1}`,
        `outer sees inner Paused, runs as job${outerJob.id}`,
        "third start: NoJobsError"
      ])
      deepStrictEqual(yield* pool.stats, allIdle(2, 2))
    }))

  it.effect("3: concurrent starts; resuming a job that is not paused is refused and disturbs nothing", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const gate = yield* Deferred.make<void>()
      const slow = Effect.gen(function*() {
        yield* AsyncJob.pause
        yield* Deferred.await(gate)
        return "slow"
      })
      const steps = yield* Effect.all([pool.start(slow), pool.start(onlyPause), pool.start(Effect.succeed(3))], {
        concurrency: "unbounded"
      })
      deepStrictEqual(steps.map((s) => s._tag), ["Paused", "Paused", "Finished"])
      const job = yield* pausedJob(steps[0])
      const resuming = yield* Effect.forkChild(pool.resume(job))
      yield* Effect.yieldNow
      strictEqual(AsyncJob.stateUnsafe(job), "running")
      const refused = yield* Effect.flip(pool.resume(job))
      assertInstanceOf(refused, JobNotPausedError)
      yield* Deferred.succeed(gate, undefined)
      deepStrictEqual(yield* Fiber.join(resuming), { _tag: "Finished", value: "slow" })
      yield* pool.resume(yield* pausedJob(steps[1]))
    }))

  it.effect("4: reconfiguring replaces the limits; outstanding jobs count against the new maxSize", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 3 })
      const a = yield* pausedJob(yield* pool.start(onlyPause))
      const b = yield* pausedJob(yield* pool.start(onlyPause))
      yield* pool.reconfigure({ maxSize: 2, initSize: 1 })
      assertInstanceOf(yield* Effect.flip(pool.start(onlyPause)), NoJobsError)
      yield* pool.resume(a)
      const c = yield* pausedJob(yield* pool.start(onlyPause))
      yield* pool.resume(b)
      yield* pool.resume(c)
      deepStrictEqual(yield* pool.stats, allIdle(2, 2))
      assertInstanceOf(yield* Effect.flip(pool.reconfigure({ maxSize: 1, initSize: 2 })), InvalidPoolSizeError)
      deepStrictEqual(yield* pool.stats, allIdle(2, 2))
    }))

  it.effect("4: pool sizes are validated", () =>
    Effect.gen(function*() {
      const invalid: Array<JobPool.Options> = [
        { maxSize: 1, initSize: 2 },
        { maxSize: 0, initSize: 1 },
        { maxSize: -1 },
        { maxSize: 1.5 },
        { maxSize: Number.NaN },
        { maxSize: 2 ** 31 },
        { initSize: -2 },
        { maxSize: "4" as unknown as number }
      ]
      for (const options of invalid) {
        const exit = yield* Effect.exit(Effect.scoped(JobPool.make(options)))
        assertTrue(
          Exit.isFailure(exit) &&
            Cause.findErrorOption(exit.cause).pipe(Option.exists((e) => e._tag === "InvalidPoolSizeError"))
        )
      }
      const valid: Array<JobPool.Options> = [{}, { maxSize: 0, initSize: 0 }, { initSize: 5 }, {
        maxSize: 2 ** 31 - 1,
        initSize: 3
      }]
      for (const options of valid) {
        const stats = yield* Effect.scoped(Effect.flatMap(JobPool.make(options), (pool) => pool.stats))
        strictEqual(stats.created, options.initSize ?? 0)
      }
    }))

  it.effect("5: closing the pool cancels paused jobs and waits until they have unwound", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 2 }), scope)
      const body = (n: number) =>
        AsyncJob.pause.pipe(
          Effect.andThen(log.add(`resumed ${n}`)),
          // a finalizer that takes a few turns of the scheduler to finish
          Effect.ensuring(Effect.andThen(Effect.repeat(Effect.yieldNow, { times: 5 }), log.add(`finally ${n}`)))
        )
      const a = yield* pausedJob(yield* pool.start(body(1)))
      const b = yield* pausedJob(yield* pool.start(body(2)))
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual([...(yield* log.get)].sort(), ["finally 1", "finally 2"])
      strictEqual(AsyncJob.stateUnsafe(a), "cancelled")
      strictEqual((yield* Effect.flip(pool.resume(b)))._tag, "StaleJobError")
    }))

  it.effect("5: closing the pool cancels a job paused by one of its fibers while its own waits elsewhere", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 1 }), scope)
      const body = Effect.gen(function*() {
        // a fiber of the job pauses it...
        yield* Effect.forkChild(AsyncJob.pause.pipe(Effect.onInterrupt(() => log.add("pause cancelled"))))
        // ...while the job's own fiber waits on something else, which only an interruption ends
        yield* Effect.never.pipe(Effect.onInterrupt(() => log.add("job fiber interrupted")))
      })
      const job = yield* pausedJob(yield* pool.start(body))
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual([...(yield* log.get)].sort(), ["job fiber interrupted", "pause cancelled"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("6: the pause-block counter belongs to the job and ends with it", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const forgetful = Effect.as(AsyncJob.blockPause, "left blocked")
      strictEqual(yield* finishedValue(yield* pool.start(forgetful)), "left blocked")
      // the next job (same pooled record) can pause
      const job = yield* pausedJob(yield* pool.start(onlyPause))
      yield* pool.resume(job)
      // unblock never goes below zero; block/unblock outside a job do nothing
      yield* AsyncJob.unblockPause
      yield* AsyncJob.blockPause
      const extraUnblocks = Effect.gen(function*() {
        yield* AsyncJob.unblockPause
        yield* AsyncJob.unblockPause
        yield* AsyncJob.pause
        return 1
      })
      yield* pool.resume(yield* pausedJob(yield* pool.start(extraUnblocks)))
      // withPauseBlocked balances itself, even when the blocked region fails
      const scoped = Effect.gen(function*() {
        yield* Effect.result(AsyncJob.withPauseBlocked(Effect.andThen(AsyncJob.pause, Effect.fail("boom"))))
        yield* AsyncJob.pause
        return 2
      })
      const again = yield* pausedJob(yield* pool.start(scoped))
      strictEqual(yield* finishedValue(yield* pool.resume(again)), 2)
    }))

  it.effect("7: a job with no wait ctx may pause and resume", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const body = Effect.gen(function*() {
        assertNone(AsyncJob.waitCtxUnsafe(Option.getOrThrow(yield* AsyncJob.current)))
        yield* AsyncJob.pause
        yield* AsyncJob.pause
        return "ok"
      })
      let step = yield* pool.start(body)
      let resumes = 0
      while (step._tag === "Paused") {
        resumes++
        step = yield* pool.resume(step.job)
      }
      deepStrictEqual([step.value, resumes], ["ok", 2])
    }))

  it.effect("8: closing a wait ctx cancels its paused job first, then runs the cleanups", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const poolScope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make(), poolScope)
      const ctxScope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)
      const body = Effect.gen(function*() {
        yield* WaitCtx.setWaitFd(ctx, "k", WaitFd.makeUnsafe(), { cleanup: () => log.add("cleanup") })
        yield* AsyncJob.pause
        yield* log.add("resumed")
      }).pipe(Effect.ensuring(log.add("job finally")))
      const job = yield* pausedJob(yield* pool.start(body, { waitCtx: ctx }))
      yield* Scope.close(ctxScope, Exit.void)
      deepStrictEqual(yield* log.get, ["job finally", "cleanup"])
      strictEqual(AsyncJob.stateUnsafe(job), "cancelled")
      deepStrictEqual(yield* pool.stats, allIdle(0, 1))
      assertTrue(!(yield* WaitCtx.isOpen(ctx)))
      yield* Scope.close(poolScope, Exit.void)
    }))

  it.effect("10: a failing body fails start with its error and returns its slot", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const failing = Effect.andThen(AsyncJob.pause, Effect.fail({ _tag: "EngineDown" as const }))
      const job = yield* pausedJob(yield* pool.start(failing))
      deepStrictEqual(yield* Effect.flip(pool.resume(job)), { _tag: "EngineDown" })
      strictEqual(AsyncJob.stateUnsafe(job), "failed")
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
      const dying = yield* Effect.exit(pool.start(Effect.die("defect")))
      assertTrue(Exit.isFailure(dying) && Cause.hasDies(dying.cause))
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))

  it.effect("11: ambient state a job sets never reaches the caller, on PAUSE nor on FINISH", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      // effect 4's ambient state: a context reference, set for the rest of a fiber through the fiber's context
      const Ambient = Context.Reference<string>("test/Ambient", { defaultValue: () => "caller" })
      const set = (value: string) =>
        Effect.withFiber((fiber) => Effect.sync(() => fiber.setContext(Context.add(fiber.context, Ambient, value))))
      const body = Effect.gen(function*() {
        yield* set("job segment 1")
        yield* AsyncJob.pause
        const seen = yield* Ambient
        yield* set("job segment 2")
        return seen
      })
      const job = yield* pausedJob(yield* pool.start(body))
      strictEqual(yield* Ambient, "caller")
      yield* set("caller changed")
      strictEqual(yield* finishedValue(yield* pool.resume(job)), "job segment 1")
      strictEqual(yield* Ambient, "caller changed")
    }))

  it.effect("12: NoJobs has no side effects", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      let ran = false
      const job = yield* pausedJob(yield* pool.start(onlyPause))
      const before = yield* pool.stats
      const error = yield* Effect.flip(pool.start(Effect.sync(() => {
        ran = true
      })))
      assertInstanceOf(error, NoJobsError)
      strictEqual(error.poolId, pool.id)
      deepStrictEqual(yield* pool.stats, before)
      strictEqual(ran, false)
      yield* pool.resume(job)
    }))

  it.effect("13: a job belongs to its pool; another pool's resume is refused and the job stays resumable", () =>
    Effect.gen(function*() {
      const mine = yield* JobPool.make()
      const theirs = yield* JobPool.make()
      const job = yield* pausedJob(yield* mine.start(onlyPause))
      const error = yield* Effect.flip(theirs.resume(job))
      assertInstanceOf(error, ForeignJobError)
      deepStrictEqual([error.ownerPoolId, error.poolId], [mine.id, theirs.id])
      assertInstanceOf(yield* Effect.flip(theirs.cancel(job)), ForeignJobError)
      strictEqual(AsyncJob.stateUnsafe(job), "paused")
      strictEqual(yield* finishedValue(yield* mine.resume(job)), 1)
    }))

  it.effect("the current job: fibers the job forks run in it, under any scheduler; its caller runs outside it", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const seen: Array<string> = []
      const where = (label: string) =>
        Effect.map(AsyncJob.current, (job) => seen.push(`${label}: ${Option.isSome(job) ? "in the job" : "outside"}`))
      const body = Effect.gen(function*() {
        yield* where("body")
        yield* Fiber.join(yield* Effect.forkChild(where("forked fiber")))
        // the job is named by the context its fibers inherit, whatever scheduler runs them
        yield* where("other scheduler").pipe(
          Effect.provideService(References.Scheduler, new Scheduler.MixedScheduler("sync"))
        )
        yield* where("after it")
        return "done"
      })
      strictEqual(yield* finishedValue(yield* pool.start(body)), "done")
      yield* where("caller")
      deepStrictEqual(seen, [
        "body: in the job",
        "forked fiber: in the job",
        "other scheduler: in the job",
        "after it: in the job",
        "caller: outside"
      ])
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))
})

describe("callback-style start and resume (JobPool.startUnsafe / resumeUnsafe)", () => {
  it.effect("steps arrive at once when the job pauses or finishes on the caller's stack, later otherwise", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const context = yield* Effect.context<never>()
      const steps: Array<string> = []
      const record = (exit: Exit.Exit<AsyncJob.JobResult<string, never>, unknown>) =>
        steps.push(Exit.isSuccess(exit) ? exit.value._tag : `failure ${Cause.pretty(exit.cause).split("\n")[0]}`)
      let paused: AsyncJob.Job<string, never> | undefined
      JobPool.startUnsafe(pool, context, Effect.as(AsyncJob.pause, "done"), undefined, (exit) => {
        record(exit)
        if (Exit.isSuccess(exit) && exit.value._tag === "Paused") paused = exit.value.job
      })
      deepStrictEqual(steps, ["Paused"])
      // the pool is full: refused at once, nothing started
      JobPool.startUnsafe(pool, context, Effect.succeed("x"), undefined, record)
      strictEqual(steps.length, 2)
      assertTrue(steps[1]!.includes("NoJobsError"))
      assertTrue(paused !== undefined)
      const job = paused
      JobPool.resumeUnsafe(pool, job, record)
      deepStrictEqual(steps.slice(2), ["Finished"])
      // a job that waits on something asynchronous first: its step comes later
      const gate = yield* Deferred.make<void>()
      const later = Effect.andThen(Deferred.await(gate), Effect.succeed("late"))
      JobPool.startUnsafe(pool, context, later, undefined, record)
      strictEqual(steps.length, 3)
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.yieldNow
      deepStrictEqual(steps.slice(3), ["Finished"])
      // a stale handle is refused
      JobPool.resumeUnsafe(pool, job, record)
      assertTrue(steps[4]!.includes("StaleJobError"))
      deepStrictEqual(yield* pool.stats, allIdle(1, 1))
    }))
})
