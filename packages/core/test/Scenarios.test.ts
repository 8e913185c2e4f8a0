/**
 * The conformance scenarios of spec §4, written against the Effect-native API.
 * S9 (custom stack allocators) does not apply: a job is a fiber and has no
 * stack of its own to allocate, so there is nothing to plug an allocator into.
 */
import { describe, it } from "@effect/vitest"
import { assertFalse, assertNone, assertSome, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Context, Effect, Exit, Option, Ref, Scope } from "effect"
import * as AsyncJob from "../src/AsyncJob.js"
import { NoJobsError } from "../src/Errors.js"
import * as JobPool from "../src/JobPool.js"
import * as WaitCtx from "../src/WaitCtx.js"
import * as WaitFd from "../src/WaitFd.js"
import { allIdle, finishedValue, makeLog, pausedJob } from "./utils.js"

const onlyPause = Effect.as(AsyncJob.pause, 1)

const fds = (ctx: WaitCtx.WaitCtx) => Effect.map(WaitCtx.getAllFds(ctx), (all) => all.map((fd) => fd.fd))
const changed = (ctx: WaitCtx.WaitCtx) =>
  Effect.map(WaitCtx.getChangedFds(ctx), ({ added, deleted }) => ({
    added: added.map((fd) => fd.fd),
    deleted: deleted.map((fd) => fd.fd)
  }))

describe("spec §4 scenarios", () => {
  it.effect("S1: the engine is capable", () =>
    Effect.gen(function*() {
      assertTrue(yield* AsyncJob.isCapable)
    }))

  it.effect("S2: pool limit and reuse", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 2, initSize: 0 })
      const ctx = yield* WaitCtx.make
      const h1 = yield* pausedJob(yield* pool.start(onlyPause, { waitCtx: ctx }))
      const h2 = yield* pausedJob(yield* pool.start(onlyPause, { waitCtx: ctx }))
      assertTrue(h1 !== h2)
      deepStrictEqual(yield* pool.stats, { maxSize: 2, created: 2, idle: 0, running: 0, paused: 2 })

      const refused = yield* Effect.flip(pool.start(onlyPause, { waitCtx: ctx }))
      assertTrue(refused instanceof NoJobsError)
      deepStrictEqual(refused.stats, { maxSize: 2, created: 2, idle: 0, running: 0, paused: 2 })

      strictEqual(yield* finishedValue(yield* pool.resume(h1)), 1)
      const h3 = yield* pausedJob(yield* pool.start(onlyPause, { waitCtx: ctx }))
      // A's pooled record is reused (no new record) but the handle is fresh (Port decision 1)
      assertTrue(h3 !== h1)
      strictEqual((yield* pool.stats).created, 2)
      strictEqual(yield* finishedValue(yield* pool.resume(h2)), 1)
      strictEqual(yield* finishedValue(yield* pool.resume(h3)), 1)
      deepStrictEqual(yield* pool.stats, allIdle(2, 2))
    }))

  it.effect("S3: callback and status accessors; the library never calls the callback", () =>
    Effect.gen(function*() {
      yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      const printed: Array<string> = []
      const cb = (arg: unknown) => {
        printed.push(`callback test pass ${(arg as { n: number }).n}`)
        return 1
      }
      const arg = { n: 100 }
      yield* WaitCtx.setCallback(ctx, cb, arg)
      const got = yield* WaitCtx.getCallback(ctx)
      assertTrue(Option.isSome(got))
      const { arg: a, callback: c } = Option.getOrThrow(got)
      assertTrue(c === cb)
      assertTrue(a === arg)
      deepStrictEqual(printed, [])
      strictEqual(c(a), 1)
      deepStrictEqual(printed, ["callback test pass 100"])
      yield* WaitCtx.setStatus(ctx, 1)
      strictEqual(yield* WaitCtx.getStatusCode(ctx), 1)
      strictEqual(yield* WaitCtx.getStatus(ctx), "err")
    }))

  it.effect("S4: pause/resume and side-effect ordering", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      let ctr = 0
      const addTwo = Effect.gen(function*() {
        ctr++
        yield* AsyncJob.pause
        ctr++
        return 2
      })
      const job = yield* pausedJob(yield* pool.start(addTwo, { waitCtx: ctx }))
      strictEqual(ctr, 1)
      strictEqual(yield* finishedValue(yield* pool.resume(job)), 2)
      strictEqual(ctr, 2)
    }))

  it.effect("S5: the handle a caller gets with PAUSE is the job the body saw", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      let saved: Option.Option<AsyncJob.Job> = Option.none()
      const saveCurrent = Effect.gen(function*() {
        saved = yield* AsyncJob.current
        yield* AsyncJob.pause
        return 1
      })
      const job = yield* pausedJob(yield* pool.start(saveCurrent))
      assertSome(saved, job as AsyncJob.Job)
      strictEqual(yield* finishedValue(yield* pool.resume(job)), 1)
      assertNone(yield* AsyncJob.current)
    }))

  it.effect("S6: wait-fd change bookkeeping", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const w = yield* WaitCtx.make
      const fd99 = WaitFd.makeUnsafe()
      const waitfd = Effect.gen(function*() {
        const job = yield* AsyncJob.current
        if (Option.isNone(job)) return 0
        const c = AsyncJob.waitCtxUnsafe(job.value)
        if (Option.isNone(c)) return 0
        yield* AsyncJob.pause
        yield* WaitCtx.setWaitFd(c.value, c.value, fd99)
        yield* AsyncJob.pause
        if (!(yield* WaitCtx.clearFd(c.value, c.value))) return 0
        yield* AsyncJob.pause
        yield* WaitCtx.setWaitFd(c.value, c.value, fd99)
        if (!(yield* WaitCtx.clearFd(c.value, c.value))) return 0
        return 1
      })
      const job = yield* pausedJob(yield* pool.start(waitfd, { waitCtx: w }))
      deepStrictEqual(yield* fds(w), [])
      deepStrictEqual(yield* changed(w), { added: [], deleted: [] })

      yield* pausedJob(yield* pool.resume(job))
      deepStrictEqual(yield* fds(w), [fd99.fd])
      deepStrictEqual(yield* changed(w), { added: [fd99.fd], deleted: [] })

      yield* pausedJob(yield* pool.resume(job))
      deepStrictEqual(yield* fds(w), [])
      deepStrictEqual(yield* changed(w), { added: [], deleted: [fd99.fd] })

      strictEqual(yield* finishedValue(yield* pool.resume(job)), 1)
      deepStrictEqual(yield* fds(w), [])
      deepStrictEqual(yield* changed(w), { added: [], deleted: [] })
    }))

  it.effect("S7: block/unblock: exactly two starts are needed", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const blockpause = Effect.gen(function*() {
        yield* AsyncJob.blockPause
        yield* AsyncJob.pause
        yield* AsyncJob.unblockPause
        yield* AsyncJob.pause
        return 1
      })
      const job = yield* pausedJob(yield* pool.start(blockpause))
      strictEqual(yield* finishedValue(yield* pool.resume(job)), 1)
    }))

  it.effect("S8: ambient context is isolated per job, both ways", () =>
    Effect.gen(function*() {
      // OpenSSL's default library context, as an effect 4 context reference. A job changes it for the rest of
      // its own fiber (what OSSL_LIB_CTX_set0_default does for the rest of the job); the caller changes its own
      // between segments. Neither sees the other's change.
      const LibCtx = Context.Reference<string>("test/LibCtx", { defaultValue: () => "G" })
      const setForTheRestOfTheFiber = (value: string) =>
        Effect.withFiber((fiber) => Effect.sync(() => fiber.setContext(Context.add(fiber.context, LibCtx, value))))
      const pool = yield* JobPool.make()
      const checks: Array<string> = []
      const changeDefault = Effect.gen(function*() {
        checks.push(`entered with ${yield* LibCtx}`)
        yield* setForTheRestOfTheFiber("J")
        yield* AsyncJob.pause
        checks.push(`after 1st resume ${yield* LibCtx}`)
        yield* AsyncJob.pause
        checks.push(`after 2nd resume ${yield* LibCtx}`)
        return 1
      })
      yield* Effect.gen(function*() {
        const job = yield* pausedJob(yield* pool.start(changeDefault))
        strictEqual(yield* LibCtx, "L")
        yield* pausedJob(yield* pool.resume(job))
        strictEqual(yield* LibCtx, "L")
        // the caller changes its own default for the rest of its fiber; the job keeps its own
        yield* setForTheRestOfTheFiber("G")
        strictEqual(yield* finishedValue(yield* pool.resume(job)), 1)
        strictEqual(yield* LibCtx, "G")
      }).pipe(Effect.provideService(LibCtx, "L"))
      deepStrictEqual(checks, ["entered with L", "after 1st resume J", "after 2nd resume J"])
    }))

  // S9 (ASYNC_set_mem_functions) does not apply: jobs are fibers with no stacks to allocate.

  it.effect("S10: no reset at FINISH (the 1.1.0 variant of S6)", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const w = yield* WaitCtx.make
      const fd99 = WaitFd.makeUnsafe()
      const body = Effect.gen(function*() {
        yield* AsyncJob.pause
        yield* WaitCtx.setWaitFd(w, w, fd99)
        yield* AsyncJob.pause
        yield* WaitCtx.clearFd(w, w)
        return 1
      })
      const job = yield* pausedJob(yield* pool.start(body, { waitCtx: w }))
      deepStrictEqual([yield* fds(w), yield* changed(w)], [[], { added: [], deleted: [] }])
      yield* pausedJob(yield* pool.resume(job))
      deepStrictEqual([yield* fds(w), yield* changed(w)], [[fd99.fd], { added: [fd99.fd], deleted: [] }])
      strictEqual(yield* finishedValue(yield* pool.resume(job)), 1)
      deepStrictEqual([yield* fds(w), yield* changed(w)], [[], { added: [], deleted: [fd99.fd] }])
    }))

  it.effect("S11: the man page's example, in-process fds", () =>
    Effect.gen(function*() {
      const out = yield* makeLog
      const unique = {}
      const cleanups = yield* Ref.make(0)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* out.add("Starting...")
        const ctx = yield* WaitCtx.make
        const body = (msg: string) =>
          Effect.gen(function*() {
            const job = yield* AsyncJob.current
            if (Option.isNone(job)) {
              yield* out.add("Not executing within a job - should not happen")
              return 0
            }
            yield* out.add("Executing within a job")
            yield* out.add(`Passed in message is: ${msg}`)
            const fd = yield* WaitFd.make
            yield* WaitCtx.setWaitFd(ctx, unique, fd, {
              customData: { writeEnd: fd },
              cleanup: () => Ref.update(cleanups, (n) => n + 1)
            })
            yield* WaitFd.signal(fd)
            yield* AsyncJob.pause
            assertTrue(yield* WaitFd.clear(fd))
            yield* out.add("Resumed the job after a pause")
            return 1
          })
        let step = yield* AsyncJob.start(body("Hello world!"), { waitCtx: ctx })
        while (step._tag === "Paused") {
          yield* out.add("Job was paused")
          const all = yield* WaitCtx.getAllFds(ctx)
          if (all.length > 1) return yield* Effect.die("too many fds")
          yield* out.add("Waiting for the job to be woken up")
          yield* WaitCtx.awaitReady(ctx)
          step = yield* AsyncJob.resume(step.job)
        }
        yield* out.add(`Job finished with return value ${step.value}`)
      }))
      strictEqual(yield* Ref.get(cleanups), 1)
      yield* out.add("Finishing")
      deepStrictEqual(yield* out.get, [
        "Starting...",
        "Executing within a job",
        "Passed in message is: Hello world!",
        "Job was paused",
        "Waiting for the job to be woken up",
        "Resumed the job after a pause",
        "Job finished with return value 1",
        "Finishing"
      ])
    }).pipe(Effect.provide(JobPool.layer())))

  it.effect("S12: dasync-style engine, one stable fd per wait ctx", () =>
    Effect.gen(function*() {
      const K = Symbol("engine")
      const cleanupCalls: Array<unknown> = []
      const scope = yield* Scope.make()
      const w = yield* Scope.provide(WaitCtx.make, scope)
      const pool = yield* Scope.provide(JobPool.make(), scope)
      const operation = (c: WaitCtx.WaitCtx) =>
        Effect.gen(function*() {
          let entry = yield* WaitCtx.getFd(c, K)
          if (Option.isNone(entry)) {
            const fd = WaitFd.makeUnsafe()
            yield* WaitCtx.setWaitFd(c, K, fd, {
              customData: "writeEnd",
              cleanup: (e) => Effect.sync(() => cleanupCalls.push([e.ctx, e.key, e.fd, e.customData]))
            })
            entry = yield* WaitCtx.getFd(c, K)
          }
          const fd = Option.getOrThrow(entry).fd as WaitFd.InProcessWaitFd
          fd.signalUnsafe()
          yield* AsyncJob.pause
          fd.clearUnsafe()
        })
      const body = Effect.gen(function*() {
        const c = Option.getOrThrow(AsyncJob.waitCtxUnsafe(Option.getOrThrow(yield* AsyncJob.current)))
        yield* operation(c)
        yield* operation(c)
        return 7
      })
      const job = yield* pausedJob(yield* pool.start(body, { waitCtx: w }))
      const [readEnd] = yield* WaitCtx.getAllFds(w)
      deepStrictEqual(yield* changed(w), { added: [readEnd!.fd], deleted: [] })
      assertTrue((readEnd as WaitFd.InProcessWaitFd).isSignalledUnsafe())
      yield* pausedJob(yield* pool.resume(job))
      deepStrictEqual((yield* WaitCtx.getAllFds(w))[0], readEnd)
      deepStrictEqual(yield* changed(w), { added: [], deleted: [] })
      strictEqual(yield* finishedValue(yield* pool.resume(job)), 7)
      deepStrictEqual(yield* fds(w), [readEnd!.fd])
      yield* Scope.close(scope, Exit.void)
      deepStrictEqual(cleanupCalls, [[w, K, readEnd, "writeEnd"]])
    }))

  it.effect("S13: add-then-clear inside one segment leaves no trace and no cleanup", () =>
    Effect.gen(function*() {
      const K = "qat"
      let recorded = 0
      const scope = yield* Scope.make()
      const w = yield* Scope.provide(WaitCtx.make, scope)
      const pool = yield* Scope.provide(JobPool.make(), scope)
      const body = Effect.gen(function*() {
        yield* WaitCtx.setWaitFd(w, K, WaitFd.makeUnsafe(), { cleanup: () => Effect.sync(() => recorded++) })
        // submission fails; the fd was added in this segment, so the engine clears it itself
        const { added } = yield* WaitCtx.getChangedFds(w)
        if (added.length > 0) assertTrue(yield* WaitCtx.clearFd(w, K))
        return 0
      })
      strictEqual(yield* finishedValue(yield* pool.start(body, { waitCtx: w })), 0)
      deepStrictEqual(yield* fds(w), [])
      deepStrictEqual(yield* changed(w), { added: [], deleted: [] })
      assertNone(yield* WaitCtx.getFd(w, K))
      yield* Scope.close(scope, Exit.void)
      strictEqual(recorded, 0)
    }))

  it.effect("S14: speed-style event loop over four jobs", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 4, initSize: 4 })
      const ctxs = yield* Effect.all(Array.from({ length: 4 }, () => WaitCtx.make))
      const K = "speed"
      const body = (i: number) =>
        Effect.gen(function*() {
          const c = ctxs[i]!
          for (let n = 0; n < 3; n++) {
            let entry = yield* WaitCtx.getFd(c, K)
            if (Option.isNone(entry)) {
              yield* WaitCtx.setWaitFd(c, K, WaitFd.makeUnsafe())
              entry = yield* WaitCtx.getFd(c, K)
            }
            const fd = Option.getOrThrow(entry).fd as WaitFd.InProcessWaitFd
            // "readable later": the engine completes on a later turn of the event loop
            yield* Effect.forkDetach(Effect.andThen(Effect.yieldNow, WaitFd.signal(fd)))
            yield* AsyncJob.pause
            fd.clearUnsafe()
          }
          return i + 1
        })
      const outstanding = new Map<number, AsyncJob.Job<number, never>>()
      for (let i = 0; i < 4; i++) {
        outstanding.set(i, yield* pausedJob(yield* pool.start(body(i), { waitCtx: ctxs[i]! })))
      }
      deepStrictEqual(yield* pool.stats, { maxSize: 4, created: 4, idle: 0, running: 0, paused: 4 })
      let sum = 0
      const finishes: Array<number> = []
      while (outstanding.size > 0) {
        assertTrue(Exit.isFailure(yield* Effect.exit(pool.start(body(9)))))
        for (const [i, job] of Array.from(outstanding)) {
          const all = yield* WaitCtx.getAllFds(ctxs[i]!)
          assertTrue(all.length <= 1)
          yield* WaitCtx.awaitReady(ctxs[i]!)
          const step = yield* pool.resume(job)
          if (step._tag === "Finished") {
            sum += step.value
            finishes.push(i)
            outstanding.delete(i)
          }
        }
      }
      strictEqual(sum, 10)
      deepStrictEqual(finishes.sort(), [0, 1, 2, 3])
      deepStrictEqual(yield* pool.stats, allIdle(4, 4))
      assertFalse(outstanding.size > 0)
    }))
})
