/**
 * Fault injection into every step of the engine's public operations: the
 * segments of a job (start, resume, run, nested starts), its finalizers
 * (finish, cancel, closing a pool or a wait ctx) and the fd cleanups (closing
 * a wait ctx). At each point a failure, a defect, a self-interruption and an
 * interruption of the calling fiber are injected in turn; afterwards the pool
 * and the wait ctx must be in a state the spec allows and still work, and
 * once everything is closed nothing may be left.
 */
import { AsyncJob, JobObserver, JobPool, WaitCtx, WaitFd } from "@async-job/core"
import { EventRecorder } from "@async-job/testing"
import { describe, it } from "@effect/vitest"
import { assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Deferred, Effect, Exit, Fiber, Option, Scope } from "effect"
import { makeFiberCounter } from "../fibers.js"
import { classify } from "../property/harness.js"
import { type Fault, faults, Injector } from "./faults.js"

interface World {
  readonly pool: JobPool.JobPool
  readonly poolScope: Scope.Closeable
  readonly ctx: WaitCtx.WaitCtx
  readonly ctxScope: Scope.Closeable
  readonly injector: Injector
  /** job handles, as each body saw itself */
  readonly jobs: Map<string, AsyncJob.Job>
  /** finalizer runs by job name */
  readonly finalized: Map<string, number>
  /** fd cleanup runs by fd name */
  readonly cleaned: Map<string, number>
  /** fds registered with a cleanup and not cleared: their cleanup must run once when the ctx closes */
  readonly live: Set<string>
  readonly fds: Map<string, WaitFd.WaitFd>
  readonly bodyFibers: Set<Fiber.Fiber<unknown, unknown>>
}

const bump = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1)

/** The body's preamble: remember the handle and the fiber. */
const enter = (w: World, name: string) =>
  Effect.withFiber<void>((fiber) => {
    w.bodyFibers.add(fiber)
    return Effect.map(AsyncJob.current, (job) => {
      w.jobs.set(name, Option.getOrThrow(job))
    })
  })

/** A job body's finalizer: counted, then the point `fin.<name>`. */
const finalizer = (w: World, name: string) =>
  Effect.suspend(() => {
    bump(w.finalized, name)
    return w.injector.at(`fin.${name}`)
  })

/** Registers fd `name` on the world's ctx, with a counted cleanup that is the point `cleanup.<name>`. */
const setFd = (w: World, name: string, signalled = false) =>
  Effect.suspend(() => {
    const fd = WaitFd.makeUnsafe()
    if (signalled) fd.signalUnsafe()
    w.fds.set(name, fd)
    return Effect.andThen(
      WaitCtx.setWaitFd(w.ctx, name, fd, {
        cleanup: () =>
          Effect.suspend(() => {
            bump(w.cleaned, name)
            return w.injector.at(`cleanup.${name}`)
          })
      }),
      Effect.sync(() => w.live.add(name))
    )
  })

const clearFd = (w: World, name: string) =>
  Effect.flatMap(WaitCtx.clearFd(w.ctx, name), (cleared) =>
    Effect.sync(() => {
      if (cleared) w.live.delete(name)
    }))

/** Drives a job from its start to its end, resuming whenever it pauses. */
const toTheEnd = <A, E>(pool: JobPool.JobPool, body: Effect.Effect<A, E>, ctx?: WaitCtx.WaitCtx) =>
  Effect.gen(function*() {
    let step = yield* pool.start(body, ctx === undefined ? undefined : { waitCtx: ctx })
    while (step._tag === "Paused") step = yield* pool.resume(step.job)
    return step.value
  })

interface Scenario {
  readonly name: string
  /** the points of the scenario; `body` points are in job segments, whose outcome reaches the caller */
  readonly points: ReadonlyArray<{ readonly label: string; readonly body: boolean }>
  readonly drive: (w: World) => Effect.Effect<unknown, unknown>
}

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "start, resume, finish, then close the wait ctx",
    points: [
      { label: "body.1", body: true },
      { label: "body.2", body: true },
      { label: "body.3", body: true },
      { label: "fin.job", body: false },
      { label: "cleanup.b", body: false }
    ],
    drive: (w) =>
      Effect.gen(function*() {
        const body = Effect.gen(function*() {
          yield* enter(w, "job")
          yield* w.injector.at("body.1")
          yield* setFd(w, "a")
          yield* AsyncJob.pause
          yield* w.injector.at("body.2")
          yield* clearFd(w, "a")
          yield* setFd(w, "b")
          yield* AsyncJob.pause
          yield* w.injector.at("body.3")
          return 1
        }).pipe(Effect.ensuring(finalizer(w, "job")))
        yield* toTheEnd(w.pool, body, w.ctx)
        yield* Scope.close(w.ctxScope, Exit.void)
      })
  },
  {
    name: "cancel a paused job",
    points: [{ label: "body.1", body: true }, { label: "fin.job", body: false }],
    drive: (w) =>
      Effect.gen(function*() {
        const body = Effect.gen(function*() {
          yield* enter(w, "job")
          yield* w.injector.at("body.1")
          yield* AsyncJob.pause
          return 1
        }).pipe(Effect.ensuring(finalizer(w, "job")))
        const step = yield* w.pool.start(body, { waitCtx: w.ctx })
        if (step._tag === "Paused") yield* w.pool.cancel(step.job)
      })
  },
  {
    name: "cancel a job paused inside acquireRelease's acquire (an uninterruptible region)",
    points: [{ label: "acquire.1", body: true }, { label: "fin.job", body: false }],
    drive: (w) =>
      Effect.gen(function*() {
        const acquire = Effect.gen(function*() {
          yield* enter(w, "job")
          yield* w.injector.at("acquire.1")
          yield* AsyncJob.pause
        })
        const body = Effect.acquireRelease(acquire, () => Effect.void).pipe(
          Effect.scoped,
          Effect.ensuring(finalizer(w, "job"))
        )
        const step = yield* w.pool.start(body, { waitCtx: w.ctx })
        if (step._tag === "Paused") yield* w.pool.cancel(step.job)
      })
  },
  {
    name: "close a pool with a job paused inside its own finalizer",
    points: [
      { label: "body.1", body: false },
      { label: "release.1", body: false },
      { label: "fin.job", body: false }
    ],
    drive: (w) =>
      Effect.gen(function*() {
        const release = Effect.andThen(w.injector.at("release.1"), AsyncJob.pause)
        const body = Effect.acquireRelease(enter(w, "job"), () => release).pipe(
          Effect.andThen(w.injector.at("body.1")),
          Effect.scoped,
          Effect.ensuring(finalizer(w, "job"))
        )
        yield* w.pool.start(body, { waitCtx: w.ctx })
        yield* Scope.close(w.poolScope, Exit.void)
      })
  },
  {
    name: "close a wait ctx under a paused job",
    points: [
      { label: "fin.job", body: false },
      { label: "cleanup.a", body: false },
      { label: "cleanup.b", body: false }
    ],
    drive: (w) =>
      Effect.gen(function*() {
        const body = Effect.gen(function*() {
          yield* enter(w, "job")
          yield* setFd(w, "a")
          yield* setFd(w, "b")
          yield* AsyncJob.pause
          return 1
        }).pipe(Effect.ensuring(finalizer(w, "job")))
        yield* w.pool.start(body, { waitCtx: w.ctx })
        yield* Scope.close(w.ctxScope, Exit.void)
      })
  },
  {
    name: "close a pool with two paused jobs",
    points: [{ label: "fin.one", body: false }, { label: "fin.two", body: false }],
    drive: (w) =>
      Effect.gen(function*() {
        const body = (name: string) =>
          Effect.gen(function*() {
            yield* enter(w, name)
            yield* AsyncJob.pause
            return 1
          }).pipe(Effect.ensuring(finalizer(w, name)))
        yield* w.pool.start(body("one"), { waitCtx: w.ctx })
        yield* w.pool.start(body("two"))
        yield* Scope.close(w.poolScope, Exit.void)
      })
  },
  {
    name: "AsyncJob.run",
    points: [
      { label: "body.1", body: true },
      { label: "body.2", body: true },
      { label: "fin.job", body: false }
    ],
    drive: (w) => {
      const body = Effect.gen(function*() {
        yield* enter(w, "job")
        yield* w.injector.at("body.1")
        yield* setFd(w, "ready", true)
        yield* AsyncJob.pause
        yield* w.injector.at("body.2")
        yield* AsyncJob.pause
        return 1
      }).pipe(Effect.ensuring(finalizer(w, "job")))
      return AsyncJob.run(body, { waitCtx: w.ctx }).pipe(Effect.provideService(JobPool.JobPool, w.pool))
    }
  },
  {
    name: "a job starting and resuming an inner job",
    points: [
      { label: "outer.1", body: true },
      { label: "inner.1", body: true },
      { label: "inner.2", body: true },
      { label: "outer.2", body: true },
      { label: "fin.inner", body: false },
      { label: "fin.outer", body: false }
    ],
    drive: (w) => {
      const inner = Effect.gen(function*() {
        yield* enter(w, "inner")
        yield* w.injector.at("inner.1")
        yield* AsyncJob.pause
        yield* w.injector.at("inner.2")
        return 2
      }).pipe(Effect.ensuring(finalizer(w, "inner")))
      const outer = Effect.gen(function*() {
        yield* enter(w, "outer")
        yield* w.injector.at("outer.1")
        const step = yield* w.pool.start(inner)
        yield* AsyncJob.pause
        yield* w.injector.at("outer.2")
        return step._tag === "Paused" ? yield* w.pool.resume(step.job) : step
      }).pipe(Effect.ensuring(finalizer(w, "outer")))
      return toTheEnd(w.pool, outer, w.ctx)
    }
  }
]

const expectedOutcome: Record<Fault, string> = {
  fail: "fail:Injected",
  die: "die:InjectedDefect",
  interrupt: "interrupted",
  interruptCaller: "interrupted"
}

/** The checks that hold after any injection, once the driving fiber is done. */
const checkAllowedState = (w: World) =>
  Effect.gen(function*() {
    const open = yield* WaitCtx.isOpen(w.ctx)
    const states = Array.from(w.jobs.values(), AsyncJob.stateUnsafe)
    assertTrue(!states.includes("running"), `no job is left running: ${states}`)
    const paused = states.filter((state) => state === "paused").length
    const stats = yield* w.pool.stats
    strictEqual(stats.running, 0)
    strictEqual(stats.paused, paused, "paused count")
    if (!open) return
    // the ctx holds exactly the fds registered and not cleared
    const all = yield* WaitCtx.getAllFds(w.ctx)
    deepStrictEqual(all.map((fd) => fd.fd).sort(), Array.from(w.live, (name) => w.fds.get(name)!.fd).sort())
  })

/** The pool and the ctx still work: a fresh job pauses, resumes and finishes. */
const checkStillWorks = (w: World) =>
  Effect.gen(function*() {
    const stats = yield* w.pool.stats
    if (stats.maxSize > 0 && stats.paused >= stats.maxSize) return
    const open = yield* WaitCtx.isOpen(w.ctx)
    const step = yield* w.pool.start(Effect.as(AsyncJob.pause, "again"), open ? { waitCtx: w.ctx } : undefined)
    assertTrue(step._tag === "Paused")
    deepStrictEqual(yield* w.pool.resume(step.job), { _tag: "Finished", value: "again" })
  })

const runCase = (scenario: Scenario, label: string, body: boolean, fault: Fault) =>
  Effect.gen(function*() {
    const fibers = makeFiberCounter()
    const { observer, recorder } = EventRecorder.makeUnsafe()
    const w = yield* Effect.gen(function*() {
      const poolScope = yield* Scope.make()
      const ctxScope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make({ maxSize: 4 }), poolScope)
      const ctx = yield* Scope.provide(WaitCtx.make, ctxScope)
      const world: World = {
        pool,
        poolScope,
        ctx,
        ctxScope,
        injector: new Injector({ label, fault }),
        jobs: new Map(),
        finalized: new Map(),
        cleaned: new Map(),
        live: new Set(),
        fds: new Map(),
        bodyFibers: new Set()
      }
      return world
    }).pipe(Effect.provideService(JobObserver.JobObserver, observer), Effect.orDie)

    yield* Effect.gen(function*() {
      const driver = yield* Effect.forkChild(scenario.drive(w))
      if (fault === "interruptCaller") {
        yield* Deferred.await(w.injector.reached)
        driver.interruptUnsafe()
        yield* Deferred.succeed(w.injector.release, undefined)
      }
      const exit = yield* Fiber.await(driver)
      assertTrue(w.injector.fired, `the point ${label} was reached`)
      if (body) strictEqual(classify(exit), expectedOutcome[fault], "what the caller sees")
      // cleanups of closed ctxs ran once each, whatever happened in one of them
      if (!(yield* WaitCtx.isOpen(w.ctx))) {
        for (const name of w.live) strictEqual(w.cleaned.get(name), 1, `cleanup of ${name}`)
      }
      yield* checkAllowedState(w)
      const poolClosed = recorder.eventsUnsafe().some((event) => event._tag === "PoolClosed")
      if (!poolClosed) yield* checkStillWorks(w)

      // close everything; nothing may be left
      const liveAtClose = new Set(w.live)
      const openAtClose = yield* WaitCtx.isOpen(w.ctx)
      yield* Effect.exit(Scope.close(w.ctxScope, Exit.void))
      yield* Effect.exit(Scope.close(w.poolScope, Exit.void))
      for (const [name, job] of w.jobs) {
        assertTrue(["finished", "failed", "cancelled"].includes(AsyncJob.stateUnsafe(job)), `${name} ended`)
        strictEqual(w.finalized.get(name), 1, `finalizer of ${name} ran once`)
      }
      if (openAtClose) {
        for (const name of liveAtClose) strictEqual(w.cleaned.get(name), 1, `cleanup of ${name} ran once`)
      }
      for (const [name, runs] of w.cleaned) assertTrue(runs === 1, `cleanup of ${name} ran ${runs} times`)
      const stats = yield* w.pool.stats
      strictEqual(stats.running + stats.paused, 0)
      const events = recorder.eventsUnsafe()
      const started = events.filter((e) => e._tag === "Started").map((e) => (e as { jobId: number }).jobId)
      const ended = events.filter((e) => e._tag === "Ended").map((e) => (e as { jobId: number }).jobId)
      deepStrictEqual(ended.slice().sort(), started.slice().sort(), "every started job ended once")
      strictEqual(events.filter((e) => e._tag === "PoolClosed").length, 1)
      strictEqual(events.filter((e) => e._tag === "WaitCtxClosed").length, 1)
      for (const fiber of w.bodyFibers) assertTrue(fiber.pollUnsafe() !== undefined, "job fibers are done")
    }).pipe(
      fibers.count,
      Effect.timeoutOrElse({
        duration: "30 seconds",
        orElse: () => Effect.die(new Error(`hang: ${scenario.name} / ${label} / ${fault}`))
      })
    )
    strictEqual(fibers.alive(), 0, "no fiber left")
  })

describe("fault injection", () => {
  for (const scenario of scenarios) {
    describe(scenario.name, () => {
      for (const { body, label } of scenario.points) {
        for (const fault of faults) {
          it.live(`${fault} at ${label}`, () => runCase(scenario, label, body, fault))
        }
      }
    })
  }

  it.live("interrupting AsyncJob.run while it waits for readiness cancels the paused job", () =>
    Effect.gen(function*() {
      const { observer, recorder } = EventRecorder.makeUnsafe()
      yield* Effect.gen(function*() {
        const pool = yield* JobPool.make({ maxSize: 1 })
        const ctx = yield* WaitCtx.make
        const fd = yield* WaitFd.make
        let finalized = 0
        const body = Effect.andThen(WaitCtx.setWaitFd(ctx, "k", fd), AsyncJob.pause).pipe(
          Effect.ensuring(Effect.sync(() => finalized++))
        )
        const runner = yield* Effect.forkChild(
          AsyncJob.run(body, { waitCtx: ctx }).pipe(Effect.provideService(JobPool.JobPool, pool))
        )
        while ((yield* pool.stats).paused === 0) yield* Effect.yieldNow
        yield* Fiber.interrupt(runner)
        strictEqual(finalized, 1)
        deepStrictEqual(yield* pool.stats, { maxSize: 1, created: 1, idle: 1, running: 0, paused: 0 })
        // the ctx is unharmed: the fd is still registered and the ctx still drives jobs
        deepStrictEqual(yield* WaitCtx.getAllFds(ctx), [fd])
        yield* WaitFd.signal(fd)
        strictEqual(
          yield* AsyncJob.run(Effect.as(AsyncJob.pause, 5), { waitCtx: ctx }).pipe(
            Effect.provideService(JobPool.JobPool, pool)
          ),
          5
        )
      }).pipe(Effect.scoped, Effect.provideService(JobObserver.JobObserver, observer))
      // CancelRequested appears only if run received the Paused step before the interruption
      const events = recorder.eventsUnsafe().filter((e) => e._tag !== "CancelRequested")
      const ended = events[2]
      assertTrue(ended?._tag === "Ended" && ended.outcome === "cancelled")
      deepStrictEqual(events.map((e) => e._tag), [
        "Started",
        "Paused",
        "Ended",
        "Started",
        "Paused",
        "Resumed",
        "Ended",
        "WaitCtxClosed",
        "PoolClosed"
      ])
    }))

  it.effect("a callback that throws leaves the wait ctx ready and usable", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make({ maxSize: 1 })
      const ctx = yield* WaitCtx.make
      yield* WaitCtx.setCallback(ctx, () => {
        throw new Error("callback bug")
      })
      const job = yield* pool.start(Effect.as(AsyncJob.pause, 1), { waitCtx: ctx })
      assertTrue(job._tag === "Paused")
      const exit = yield* Effect.exit(WaitCtx.invokeCallback(ctx))
      strictEqual(classify(exit), "die:Error: callback bug")
      // the readiness was recorded before the callback ran
      yield* WaitCtx.awaitReady(ctx)
      deepStrictEqual(yield* pool.resume(job.job), { _tag: "Finished", value: 1 })
      assertTrue(yield* WaitCtx.isOpen(ctx))
    }))

  // interrupt the caller of start or resume after k scheduler turns: whatever the moment (before the
  // job runs, while it runs, after it paused but before the caller heard of it), the job is never lost
  for (const op of ["start", "resume"] as const) {
    it.live(`interrupting the caller of ${op} at any moment never loses the job`, () =>
      Effect.gen(function*() {
        for (let turns = 0; turns < 12; turns++) {
          const pool = yield* JobPool.make({ maxSize: 1 })
          let finalized = 0
          let resumed = 0
          const body = Effect.gen(function*() {
            yield* Effect.yieldNow
            yield* AsyncJob.pause
            resumed++
            yield* Effect.yieldNow
            yield* AsyncJob.pause
            return 1
          }).pipe(Effect.ensuring(Effect.sync(() => finalized++)))
          let target: AsyncJob.Job<number, never> | undefined
          if (op === "resume") {
            const first = yield* pool.start(body)
            assertTrue(first._tag === "Paused")
            target = first.job
          }
          const call: Effect.Effect<AsyncJob.JobResult<number, never>, unknown> = op === "start"
            ? pool.start(body)
            : pool.resume(target!)
          const caller = yield* Effect.forkChild(call)
          for (let i = 0; i < turns; i++) yield* Effect.yieldNow
          yield* Fiber.interrupt(caller)
          const exit = yield* Fiber.await(caller)
          const stats = yield* pool.stats
          strictEqual(stats.running, 0, `turns ${turns}: nothing runs once the caller is gone`)
          if (stats.paused === 1) {
            // the job is paused: either the caller heard of it, or (resume) the resume never began;
            // in both cases someone holds its handle, so it is not lost
            const handle = Exit.isSuccess(exit) && exit.value._tag === "Paused" ? exit.value.job : target
            assertTrue(
              handle !== undefined && AsyncJob.stateUnsafe(handle) === "paused",
              `turns ${turns}: a paused job is held`
            )
            yield* pool.cancel(handle)
          }
          const started = stats.created > 0
          strictEqual(finalized, started ? 1 : 0, `turns ${turns}: the job ended once`)
          deepStrictEqual(yield* pool.stats, {
            maxSize: 1,
            created: started ? 1 : 0,
            idle: started ? 1 : 0,
            running: 0,
            paused: 0
          })
          strictEqual(resumed <= 1, true)
        }
      }).pipe(Effect.scoped))
  }
})
