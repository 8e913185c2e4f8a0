/**
 * Regression tests: counterexamples found by the property and fault suites,
 * kept as plain tests.
 */
import { AsyncJob, JobPool, WaitCtx, WaitFd } from "@async-job/core"
import { describe, it } from "@effect/vitest"
import { assertFalse, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { runProgram } from "./property/harness.js"
import type { Program } from "./property/program.js"

describe("regressions", () => {
  // found by fault injection ("close a wait ctx under a paused job", interruptCaller at fin.job): an
  // interruption of the fiber closing the ctx's scope stopped the close half way; the scope counted
  // as closed, so the fd cleanups never ran and the ctx stayed open for ever
  it.live("interrupting the fiber that closes a wait ctx does not stop the close half way", () =>
    Effect.gen(function*() {
      const pool = yield* JobPool.make()
      const scope = yield* Scope.make()
      const ctx = yield* Scope.provide(WaitCtx.make, scope)
      const inFinalizer = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let cleaned = 0
      const body = Effect.gen(function*() {
        yield* WaitCtx.setWaitFd(ctx, "k", yield* WaitFd.make, { cleanup: () => Effect.sync(() => cleaned++) })
        yield* AsyncJob.pause
      }).pipe(Effect.ensuring(Effect.andThen(Deferred.succeed(inFinalizer, undefined), Deferred.await(release))))
      yield* pool.start(body, { waitCtx: ctx })
      const closer = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* Deferred.await(inFinalizer)
      closer.interruptUnsafe()
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.await(closer)
      strictEqual(cleaned, 1)
      assertFalse(yield* WaitCtx.isOpen(ctx))
    }).pipe(Effect.scoped))

  // the same for a pool: an interruption right after the close began left its jobs paused in a closed pool
  it.live("interrupting the fiber that closes a pool does not leave jobs behind", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(JobPool.make(), scope)
      let finalized = 0
      const bothDone = yield* Deferred.make<void>()
      const body = Effect.ensuring(
        AsyncJob.pause,
        Effect.suspend(() => ++finalized === 2 ? Deferred.succeed(bothDone, undefined) : Effect.void)
      )
      yield* pool.start(body)
      yield* pool.start(body)
      const closer = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(closer)
      yield* Scope.close(scope, Exit.void)
      // once the close has begun, every job is cancelled, however the closing fiber fares
      const done = yield* Deferred.await(bothDone).pipe(Effect.timeout("2 seconds"), Effect.exit)
      deepStrictEqual([Exit.isSuccess(done), finalized, (yield* pool.stats).paused], [true, 2, 0])
    }))

  // minimal programs found by the property suite against engines with an injected bug (see the report
  // of issue 4); each one fails on that bug, so they stay as plain tests
  const programs: ReadonlyArray<readonly [string, Program]> = [
    ["the epoch reset on resume (§2.8)", {
      pools: [{ maxSize: 0, initSize: 0 }, { maxSize: 0, initSize: 0 }],
      ctxs: 1,
      ops: [
        { _tag: "SetFd", ctx: 0, key: 0, cleanup: false },
        { _tag: "Start", pool: 1, ctx: 0, script: { instrs: [{ _tag: "Pause" }], end: { _tag: "Return", value: 0 } } },
        { _tag: "Resume", job: 0, paused: true, via: null }
      ]
    }],
    ["a finished job's record returns to the pool", {
      pools: [{ maxSize: 0, initSize: 0 }],
      ctxs: 1,
      ops: [{ _tag: "Start", pool: 0, ctx: 0, script: { instrs: [], end: { _tag: "Return", value: 0 } } }]
    }],
    ["cleanups run newest first (§2.2)", {
      pools: [{ maxSize: 0, initSize: 0 }],
      ctxs: 1,
      ops: [
        { _tag: "SetFd", ctx: 0, key: 0, cleanup: true },
        {
          _tag: "Start",
          pool: 0,
          ctx: 0,
          script: { instrs: [{ _tag: "SetFd", key: 0, cleanup: true }], end: { _tag: "Fail" } }
        }
      ]
    }],
    ["closing a wait ctx cancels its paused job (Port decision 8)", {
      pools: [{ maxSize: 4, initSize: 0 }],
      ctxs: 1,
      ops: [{ _tag: "Start", pool: 0, ctx: 0, script: { instrs: [{ _tag: "Pause" }], end: { _tag: "Die" } } }]
    }],
    ["a blocked pause does nothing (§1.8)", {
      pools: [{ maxSize: 3, initSize: 0 }],
      ctxs: 1,
      ops: [{
        _tag: "Start",
        pool: 0,
        ctx: 0,
        script: { instrs: [{ _tag: "Block" }, { _tag: "Pause" }], end: { _tag: "Return", value: 0 } }
      }]
    }],
    // effect 4 runs a job's first segment on its caller's stack, and a fiber woken by the job (here the
    // harness, through a Deferred) runs nested inside that segment: what it does to the job there must work
    // as it does once the job has yielded
    ...(["interrupt", "closePool", "closeCtx"] as const).map((then) =>
      [`${then} while the job's first segment runs, from inside it`, {
        pools: [{ maxSize: 0, initSize: 0 }],
        ctxs: 1,
        ops: [{ _tag: "Start", pool: 0, ctx: 0, script: { instrs: [], end: { _tag: "Hang", then } } }]
      }] as const
    )
  ]
  for (const [name, program] of programs) {
    it.live(`program: ${name}`, () => runProgram(program))
  }
})
