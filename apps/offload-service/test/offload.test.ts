/**
 * The body of a service job on its own, driven by hand through the core API:
 * the engine answers only when the test releases a request.
 */
import * as AsyncJob from "@async-job/core/AsyncJob"
import * as JobPool from "@async-job/core/JobPool"
import * as WaitCtx from "@async-job/core/WaitCtx"
import type * as WaitFd from "@async-job/core/WaitFd"
import { describe, it } from "@effect/vitest"
import { assertFalse, assertTrue, deepStrictEqual, strictEqual } from "@effect/vitest/utils"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import { engineKey, offload } from "../src/jobs/offload.js"
import * as ManualEngine from "./fixtures/ManualEngine.js"

const abc = { op: "sha256", data: "abc" } as const
const abcDigest = { op: "sha256", digest: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=" } as const

const setup = Effect.gen(function*() {
  const engine = yield* ManualEngine.make
  const ctxScope = yield* Scope.make()
  const ctx = yield* Scope.provide(ctxScope)(WaitCtx.make)
  const log: Array<string> = []
  const body = offload(engine, abc, ctx, {
    cleanup: ({ key }) => Effect.sync(() => log.push(`cleanup ${key === engineKey ? "engine fd" : "?"}`)),
    onAnswer: () => log.push("engine answered")
  })
  const fd = Effect.map(
    WaitCtx.getFd(ctx, engineKey),
    (entry) => entry._tag === "Some" ? entry.value.fd as WaitFd.InProcessWaitFd : undefined
  )
  return { engine, ctx, ctxScope, log, body, fd }
})

describe("offload (the body of a service job)", () => {
  it.effect("a resume before the engine answered is a hint: the job pauses again", () =>
    Effect.gen(function*() {
      const { body, ctx, engine, fd, log } = yield* setup
      const first = yield* AsyncJob.start(body, { waitCtx: ctx })
      strictEqual(first._tag, "Paused")
      deepStrictEqual(log, [])
      strictEqual(engine.pendingIds().length, 1)
      assertFalse((yield* fd)!.isSignalledUnsafe())

      // resumed although the fd is not readable: back to PAUSE, request still pending
      const second = yield* AsyncJob.resume((first as AsyncJob.Paused<unknown, unknown>).job)
      strictEqual(second._tag, "Paused")
      strictEqual(engine.pendingIds().length, 1)

      yield* engine.release(engine.pendingIds()[0]!)
      assertTrue((yield* fd)!.isSignalledUnsafe())
      deepStrictEqual(log, ["engine answered"])
      const third = yield* AsyncJob.resume((second as AsyncJob.Paused<unknown, unknown>).job)
      deepStrictEqual(third, { _tag: "Finished", value: abcDigest })
      // the job consumed the signal; the fd stays registered until the ctx closes
      assertFalse((yield* fd)!.isSignalledUnsafe())
      deepStrictEqual(engine.statsUnsafe().cancelled, 0)
    }).pipe(Effect.provide(JobPool.layer({ maxSize: 1 }))))

  it.effect("AsyncJob.run drives it: resumed once the engine signals the fd", () =>
    Effect.gen(function*() {
      const { body, ctx, engine } = yield* setup
      const running = yield* Effect.forkChild(AsyncJob.run(body, { waitCtx: ctx }))
      yield* Effect.yieldNow.pipe(Effect.repeat({ until: () => engine.pendingIds().length === 1 }))
      yield* engine.release(engine.pendingIds()[0]!)
      deepStrictEqual(yield* Fiber.await(running), Exit.succeed(abcDigest))
    }).pipe(Effect.provide(JobPool.layer({ maxSize: 1 }))))

  it.effect("cancelled while paused: the engine request is dropped, and the fd is cleaned up when the ctx closes", () =>
    Effect.gen(function*() {
      const { body, ctx, ctxScope, engine, log } = yield* setup
      const paused = yield* AsyncJob.start(body, { waitCtx: ctx })
      yield* AsyncJob.cancel((paused as AsyncJob.Paused<unknown, unknown>).job)
      deepStrictEqual([engine.pendingIds().length, engine.statsUnsafe().cancelled], [0, 1])
      deepStrictEqual(log, [])
      yield* Scope.close(ctxScope, Exit.void)
      deepStrictEqual(log, ["cleanup engine fd"])
    }).pipe(Effect.provide(JobPool.layer({ maxSize: 1 }))))

  it.effect("an engine failure fails the job", () =>
    Effect.gen(function*() {
      const { body, ctx, engine } = yield* setup
      const paused = yield* AsyncJob.start(body, { waitCtx: ctx })
      engine.fail(engine.pendingIds()[0]!, "refused")
      const exit = yield* Effect.exit(AsyncJob.resume((paused as AsyncJob.Paused<unknown, unknown>).job))
      assertTrue(Exit.isFailure(exit))
      strictEqual(AsyncJob.stateUnsafe((paused as AsyncJob.Paused<unknown, unknown>).job), "failed")
    }).pipe(Effect.provide(JobPool.layer({ maxSize: 1 }))))
})
